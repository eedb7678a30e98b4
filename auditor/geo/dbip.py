"""DB-IP Lite for `audit db update`: the free monthly databases, which need no account.

DB-IP publishes each Lite database once a month, CC BY 4.0, linked from
https://db-ip.com/db/lite.php, at {host}/free/{edition}-{YYYY-MM}.mmdb.gz with edition one of
dbip-city-lite, dbip-country-lite, dbip-asn-lite (host https://download.db-ip.com). A month's file
appears in its first days, so when this month's is not there yet (404) the previous month's is
fetched. The file is installed as {edition}.mmdb, where discovery finds dbip-city-lite.mmdb.

DB-IP publishes no checksum beside the files (a SHA-1 is shown only on an HTML page, which this
does not scrape), so a download is verified by everything that can be checked: gzip's CRC-32 and
length, an mmdb that opens and answers lookups, the database type of the edition asked for, and
a build date no older than the installed file's (an older month never replaces a newer one).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
import zlib
from typing import IO, cast

import maxminddb

from auditor.errors import DatabaseError
from auditor.geo.fetch import Deadlines, Download, DownloadError
from auditor.geo.install import (
    UpdateResult,
    check_database,
    check_target,
    install,
    last_modified,
    seal,
    staged,
    too_large,
)
from auditor.geo.locator import open_locator

DBIP_HOST = "https://download.db-ip.com"
# Edition -> the database_type DB-IP writes into it.
DBIP_EDITIONS: dict[str, str] = {
    "dbip-city-lite": "DBIP-City-Lite",
    "dbip-country-lite": "DBIP-Country-Lite",
    "dbip-asn-lite": "DBIP-ASN-Lite",
}
DEFAULT_DBIP_EDITION = "dbip-city-lite"


def months_to_try(now: float) -> tuple[str, str]:
    """This month and the one before, as YYYY-MM, in UTC."""
    today = time.gmtime(now)
    year, month = (today.tm_year, today.tm_mon - 1) if today.tm_mon > 1 else (today.tm_year - 1, 12)
    return f"{today.tm_year:04d}-{today.tm_mon:02d}", f"{year:04d}-{month:02d}"


def update_dbip(
    edition: str,
    directory: str,
    *,
    host: str,
    deadlines: Deadlines,
    max_bytes: int,
    now: float,
) -> UpdateResult:
    """Fetch this month's (else last month's) file of ``edition``, verify it, install it."""
    target = os.path.join(directory, f"{edition}.mmdb")
    check_target(target)
    current, previous = months_to_try(now)
    try:
        return _fetch(
            edition, current, target, host=host, deadlines=deadlines, max_bytes=max_bytes
        )
    except DownloadError as exc:
        if exc.status != 404:
            raise
    return _fetch(edition, previous, target, host=host, deadlines=deadlines, max_bytes=max_bytes)


def _fetch(
    edition: str, month: str, target: str, *, host: str, deadlines: Deadlines, max_bytes: int
) -> UpdateResult:
    url = f"{host.rstrip('/')}/free/{edition}-{month}.mmdb.gz"
    installed = _build_epoch(target)
    # The installed file's mtime is the Last-Modified it was served with: a month already
    # installed is answered 304, not sent again.
    since = os.path.getmtime(target) if installed is not None else None
    with (
        staged(target) as (partial, output),
        Download(url, target, deadlines, if_modified_since=since) as body,
    ):
        if body.not_modified:
            return UpdateResult(edition, target, updated=False, digest="", date=month)
        modified = last_modified(body.header("Last-Modified"))
        digest = _gunzip(body, output, target, max_bytes)
        seal(output)
        check_database(partial, target, DBIP_EDITIONS[edition])
        _check_answers(partial, target)
        built = _build_epoch(partial)
        if installed is not None and built is not None and built <= installed:
            # The same month again, or an older one: what is installed stays.
            return UpdateResult(edition, target, updated=False, digest=digest, date=month)
        install(partial, target, modified)
    return UpdateResult(edition, target, updated=True, digest=digest, date=month)


def _gunzip(body: Download, output: IO[bytes], target: str, limit: int) -> str:
    """Decompress the download into ``output``; gzip checks its CRC-32 and length at the end."""
    digest = hashlib.sha256()
    written = 0
    try:
        with gzip.GzipFile(fileobj=cast("IO[bytes]", body), mode="rb") as unpacked:
            for block in iter(lambda: unpacked.read(1 << 20), b""):
                written += len(block)
                if written > limit:
                    raise too_large(target, limit)
                digest.update(block)
                output.write(block)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatabaseError(target, f"downloaded file is damaged: {exc}") from exc
    return digest.hexdigest()


def _check_answers(partial: str, target: str) -> None:
    """The file opens the way an audit opens it (layout known, lookups answer)."""
    try:
        with open_locator([partial]):
            pass
    except DatabaseError as exc:
        raise DatabaseError(target, f"downloaded database cannot be used: {exc}") from exc


def _build_epoch(path: str) -> int | None:
    try:
        with maxminddb.open_database(path, maxminddb.MODE_AUTO) as reader:
            return int(reader.metadata().build_epoch)
    except Exception:  # missing or unreadable: then anything verified may replace it
        return None
