"""`audit db update`: download MaxMind databases the way geoipupdate does, verify, swap atomically.

The protocol (geoipupdate v6+): GET {host}/geoip/updates/metadata?edition_id=E with HTTP basic
auth (account ID, licence key) answers {"databases": [{"edition_id", "date", "md5"}]}; when the
md5 differs from the local file's, GET {host}/geoip/databases/E/download?date=YYYYMMDD&suffix=
tar.gz gives a tar.gz holding E.mmdb, whose MD5 must equal the metadata's.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import json
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import maxminddb

from auditor.errors import DatabaseError, UsageError
from auditor.geo.metadata import check_metadata

DEFAULT_HOST = "https://updates.maxmind.com"
DEFAULT_EDITIONS: tuple[str, ...] = ("GeoLite2-City", "GeoLite2-ASN")
DEFAULT_DIRECTORY = "/usr/local/share/GeoIP"  # geoipupdate's own default
CONFIG_PATHS: tuple[str, ...] = ("/usr/local/etc/GeoIP.conf", "/etc/GeoIP.conf")
USER_AGENT = "auditor-db-update/1 (geoipupdate protocol)"

# Bounds on what a server can make us read: the largest MaxMind edition is well under these.
MAX_METADATA_BYTES = 1 << 20
MAX_ARCHIVE_BYTES = 4 << 30
MAX_MMDB_BYTES = 8 << 30
_TIMEOUT_SECONDS = 60
_EDITION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class UpdateConfig:
    account_id: str
    license_key: str
    edition_ids: tuple[str, ...] = DEFAULT_EDITIONS
    directory: str = DEFAULT_DIRECTORY
    host: str = DEFAULT_HOST


@dataclass(frozen=True, slots=True)
class UpdateResult:
    edition_id: str
    path: str
    updated: bool  # False: the local file already had the published MD5
    md5: str
    date: str


def parse_geoip_conf(text: str) -> dict[str, str]:
    """GeoIP.conf's "Key value" lines; '#' starts a comment."""
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition(" ")
            settings[key] = value.strip()
    return settings


def load_config(
    flags: Mapping[str, str | None], env: Mapping[str, str], config_path: str | None = None
) -> UpdateConfig:
    """Settings from flags, else GEOIPUPDATE_* variables, else GeoIP.conf, as geoipupdate has it.

    ``flags`` keys: account_id, license_key, edition_ids (space-separated), directory, host.
    """
    conf = _read_conf(config_path or env.get("GEOIPUPDATE_CONF_FILE"))

    def pick(flag: str, variable: str, conf_key: str) -> str | None:
        return flags.get(flag) or _env_value(env, variable) or conf.get(conf_key) or None

    account_id = pick("account_id", "GEOIPUPDATE_ACCOUNT_ID", "AccountID")
    # Older GeoIP.conf files call the key UserId.
    account_id = account_id or conf.get("UserId")
    license_key = pick("license_key", "GEOIPUPDATE_LICENSE_KEY", "LicenseKey")
    if not account_id or not license_key:
        raise UsageError(
            "a MaxMind account ID and licence key are needed: --account-id and "
            "--license-key, GEOIPUPDATE_ACCOUNT_ID and GEOIPUPDATE_LICENSE_KEY, or GeoIP.conf"
        )
    if not account_id.isdigit():
        raise UsageError(f"account ID {account_id!r} is not a number")
    editions = pick("edition_ids", "GEOIPUPDATE_EDITION_IDS", "EditionIDs")
    edition_ids = tuple(editions.replace(",", " ").split()) if editions else DEFAULT_EDITIONS
    for edition in edition_ids:
        if not _EDITION_ID.fullmatch(edition):
            raise UsageError(f"edition ID {edition!r} is not a MaxMind edition name")
    return UpdateConfig(
        account_id=account_id,
        license_key=license_key,
        edition_ids=edition_ids,
        directory=pick("directory", "GEOIPUPDATE_DB_DIR", "DatabaseDirectory") or DEFAULT_DIRECTORY,
        host=_normalise_host(pick("host", "GEOIPUPDATE_HOST", "Host") or DEFAULT_HOST),
    )


def _read_conf(path: str | None) -> dict[str, str]:
    candidates = [path] if path else [p for p in CONFIG_PATHS if os.path.isfile(p)]
    for candidate in candidates[:1]:
        try:
            return parse_geoip_conf(Path(candidate).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{candidate}: cannot read GeoIP.conf: {exc}") from exc
    return {}


def _env_value(env: Mapping[str, str], variable: str) -> str | None:
    """A GEOIPUPDATE_* variable, or the contents of the file its *_FILE twin names."""
    if env.get(variable):
        return env[variable]
    file_name = env.get(f"{variable}_FILE")
    if not file_name:
        return None
    try:
        return Path(file_name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{file_name}: cannot read {variable}_FILE: {exc.strerror}") from exc


def _normalise_host(host: str) -> str:
    # GeoIP.conf's Host is a bare name ("updates.maxmind.com"); a URL is accepted too.
    host = host.strip().rstrip("/")
    return host if re.match(r"https?://", host) else f"https://{host}"


def update_databases(config: UpdateConfig) -> list[UpdateResult]:
    """Bring every configured edition up to date; the first failure raises."""
    os.makedirs(config.directory, exist_ok=True)
    return [update_edition(config, edition) for edition in config.edition_ids]


def update_edition(config: UpdateConfig, edition_id: str) -> UpdateResult:
    target = os.path.join(config.directory, f"{edition_id}.mmdb")
    date, md5 = _published(config, edition_id, target)
    if os.path.isfile(target) and _md5_of(target) == md5:
        return UpdateResult(edition_id, target, updated=False, md5=md5, date=date)
    query = urllib.parse.urlencode({"date": date.replace("-", ""), "suffix": "tar.gz"})
    url = f"{config.host}/geoip/databases/{urllib.parse.quote(edition_id)}/download?{query}"
    with _request(config, url, target) as response:
        modified = _last_modified(response.headers.get("Last-Modified"))
        _install(response, target, edition_id, md5, modified)
    return UpdateResult(edition_id, target, updated=True, md5=md5, date=date)


def _md5_of(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _published(config: UpdateConfig, edition_id: str, target: str) -> tuple[str, str]:
    """The (date, md5) the service publishes for the edition, checked for shape."""
    query = urllib.parse.urlencode({"edition_id": edition_id})
    with _request(config, f"{config.host}/geoip/updates/metadata?{query}", target) as response:
        body = response.read(MAX_METADATA_BYTES + 1)
    if len(body) > MAX_METADATA_BYTES:
        raise DatabaseError(target, "update metadata response is too large")
    try:
        databases = json.loads(body)["databases"]
        (entry,) = (d for d in databases if d.get("edition_id") == edition_id)
        date, md5 = str(entry["date"]), str(entry["md5"]).lower()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatabaseError(target, f"update metadata for {edition_id} is malformed") from exc
    if not _DATE.fullmatch(date) or not _MD5.fullmatch(md5):
        raise DatabaseError(target, f"update metadata for {edition_id} is malformed")
    return date, md5


def _request(config: UpdateConfig, url: str, target: str) -> http.client.HTTPResponse:
    credentials = base64.b64encode(f"{config.account_id}:{config.license_key}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s)
        url, headers={"Authorization": f"Basic {credentials}", "User-Agent": USER_AGENT}
    )
    try:
        response: http.client.HTTPResponse = _OPENER.open(request, timeout=_TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        raise DatabaseError(target, _http_failure(exc)) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatabaseError(target, f"cannot reach {config.host}: {reason}") from exc
    return response


class _SameHostAuthRedirect(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but sends the credentials only to the host they were meant for.

    urllib copies every header onto the redirected request; the download service redirects to
    storage elsewhere, which must not receive the licence key (Go's client, which geoipupdate
    uses, drops it the same way).
    """

    def redirect_request(  # noqa: PLR0917 - the signature urllib calls
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != req.host:
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_SameHostAuthRedirect())


def _http_failure(exc: urllib.error.HTTPError) -> str:
    if exc.code in (401, 403):
        return f"the update service refused the account ID or licence key (HTTP {exc.code})"
    detail = " ".join(exc.read(256).decode("utf-8", "replace").split())
    return f"the update service answered HTTP {exc.code}: {detail}"


def _last_modified(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None


def _install(
    archive: http.client.HTTPResponse,
    target: str,
    edition_id: str,
    md5: str,
    modified: float | None,
) -> None:
    """Unpack the .mmdb next to the target, verify it, then rename it over the target."""
    directory = os.path.dirname(target) or "."
    handle, partial = tempfile.mkstemp(prefix=f".{edition_id}.", suffix=".partial", dir=directory)
    try:
        with os.fdopen(handle, "wb") as output:
            digest = _extract_mmdb(archive, output, target)
            output.flush()
            os.fsync(output.fileno())
        if digest != md5:
            raise DatabaseError(target, f"downloaded {edition_id} has MD5 {digest}, not {md5}")
        _check_readable(partial, target, edition_id)
        if modified is not None:
            os.utime(partial, (modified, modified))
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _extract_mmdb(archive: IO[bytes], output: IO[bytes], target: str) -> str:
    """Copy the archive's first .mmdb member to ``output``; returns its MD5."""
    limited = cast("IO[bytes]", _Limited(archive, MAX_ARCHIVE_BYTES))
    try:
        with tarfile.open(fileobj=limited, mode="r|gz") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".mmdb"):
                    source = tar.extractfile(member)
                    if source is None:
                        break
                    return _copy_with_md5(source, output)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatabaseError(target, f"downloaded archive is damaged: {exc}") from exc
    raise DatabaseError(target, "downloaded archive holds no .mmdb file")


def _copy_with_md5(source: IO[bytes], output: IO[bytes]) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # MaxMind publishes MD5; the check is integrity
    written = 0
    for block in iter(lambda: source.read(1 << 20), b""):
        written += len(block)
        if written > MAX_MMDB_BYTES:
            raise OSError("the unpacked database is larger than the limit")  # a gzip bomb
        digest.update(block)
        output.write(block)
    return digest.hexdigest()


def _check_readable(partial: str, target: str, edition_id: str) -> None:
    # Any edition may be kept up to date, so this checks the file, not that it is a location
    # layout: the audit's own open reports a layout it cannot use.
    try:
        with maxminddb.open_database(partial, maxminddb.MODE_AUTO) as reader:
            metadata = reader.metadata()
            check_metadata(target, metadata, os.path.getsize(partial))
            database_type = str(metadata.database_type)
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(target, f"downloaded {edition_id} is not a valid database") from exc
    if edition_id not in database_type:
        raise DatabaseError(target, f"downloaded {edition_id} is a {database_type!r} database")


class _Limited:
    """A read-only stream that fails past ``limit`` bytes: a bound on a hostile download."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self._left + 1
        block = self._stream.read(min(size, self._left + 1))
        self._left -= len(block)
        if self._left < 0:
            raise OSError("download is larger than the limit")
        return block


def default_update_flags(
    account_id: str | None = None,
    license_key: str | None = None,
    edition_ids: Sequence[str] = (),
    directory: str | None = None,
    host: str | None = None,
) -> dict[str, str | None]:
    """The flags mapping load_config takes, from the command line's values."""
    return {
        "account_id": account_id,
        "license_key": license_key,
        "edition_ids": " ".join(edition_ids) or None,
        "directory": directory,
        "host": host,
    }
