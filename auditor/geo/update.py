"""`audit db update`: download MaxMind databases the way geoipupdate does, verify, swap atomically.

The protocol (geoipupdate v6+): GET {host}/geoip/updates/metadata?edition_id=E with HTTP basic
auth (account ID, licence key) answers {"databases": [{"edition_id", "date", "md5"}]}; when the
md5 differs from the local file's, GET {host}/geoip/databases/E/download?date=YYYYMMDD&suffix=
tar.gz gives a tar.gz holding E.mmdb, whose MD5 must equal the metadata's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from auditor.errors import DatabaseError, UsageError
from auditor.geo.dbip import DBIP_EDITIONS, DBIP_HOST, DEFAULT_DBIP_EDITION, update_dbip
from auditor.geo.fetch import Credentials, Deadlines, Download, DownloadError
from auditor.geo.install import (
    UpdateResult,
    check_database,
    check_target,
    install,
    last_modified,
    os_reason,
    prepare_directory,
    seal,
    staged,
    too_large,
)

DEFAULT_HOST = "https://updates.maxmind.com"
DEFAULT_EDITIONS: tuple[str, ...] = ("GeoLite2-City", "GeoLite2-ASN")
DEFAULT_DIRECTORY = "/usr/local/share/GeoIP"  # geoipupdate's own default
CONFIG_PATHS: tuple[str, ...] = ("/usr/local/etc/GeoIP.conf", "/etc/GeoIP.conf")

# Bounds on what a server can make us read. The largest database this command fetches
# (GeoIP2-Enterprise, DB-IP City Lite) unpacks to a few hundred MB; 2 GiB leaves room for growth
# and still stops a gzip bomb long before the disk fills.
MAX_METADATA_BYTES = 1 << 20
MAX_MMDB_BYTES = 2 << 30
_EDITION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class UpdateConfig:
    account_id: str | None  # None: no MaxMind account, DB-IP Lite only
    license_key: str | None = field(default=None, repr=False)  # never in a repr or traceback
    edition_ids: tuple[str, ...] = (*DEFAULT_EDITIONS, DEFAULT_DBIP_EDITION)
    directory: str = DEFAULT_DIRECTORY
    host: str = DEFAULT_HOST
    deadlines: Deadlines = field(default_factory=Deadlines)
    max_mmdb_bytes: int = MAX_MMDB_BYTES
    dbip_host: str = DBIP_HOST

    @property
    def credentials(self) -> Credentials:
        if not self.account_id or not self.license_key:
            raise UsageError(_NEEDS_ACCOUNT)
        return Credentials.for_url(self.host, self.account_id, self.license_key)


_NEEDS_ACCOUNT = (
    "MaxMind editions need an account ID and licence key: --account-id and --license-key, "
    "GEOIPUPDATE_ACCOUNT_ID and GEOIPUPDATE_LICENSE_KEY(_FILE), or GeoIP.conf "
    f"(DB-IP Lite, {', '.join(DBIP_EDITIONS)}, needs none)"
)


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

    ``flags`` keys: account_id, license_key, edition_ids (space-separated), directory, host,
    dbip_host. Editions given as flags are exactly what is fetched; otherwise DB-IP Lite City is
    fetched too (it needs no account), beside the MaxMind editions when there is an account.
    """
    conf = _read_conf(config_path or env.get("GEOIPUPDATE_CONF_FILE"))

    def pick(flag: str, variable: str, conf_key: str) -> str | None:
        return flags.get(flag) or _env_value(env, variable) or conf.get(conf_key) or None

    account_id = pick("account_id", "GEOIPUPDATE_ACCOUNT_ID", "AccountID")
    # Older GeoIP.conf files call the key UserId.
    account_id = account_id or conf.get("UserId")
    license_key = pick("license_key", "GEOIPUPDATE_LICENSE_KEY", "LicenseKey")
    has_account = bool(account_id and license_key)
    edition_ids = _editions(flags, pick, has_account)
    if any(edition not in DBIP_EDITIONS for edition in edition_ids):
        if not account_id or not license_key:
            raise UsageError(_NEEDS_ACCOUNT)
        if not account_id.isdigit():
            raise UsageError(f"account ID {account_id!r} is not a number")
    return UpdateConfig(
        account_id=account_id,
        license_key=license_key,
        edition_ids=edition_ids,
        directory=pick("directory", "GEOIPUPDATE_DB_DIR", "DatabaseDirectory") or DEFAULT_DIRECTORY,
        host=_normalise_host(pick("host", "GEOIPUPDATE_HOST", "Host") or DEFAULT_HOST),
        dbip_host=_normalise_host(flags.get("dbip_host") or DBIP_HOST),
    )


def _editions(
    flags: Mapping[str, str | None],
    pick: Callable[[str, str, str], str | None],
    has_account: bool,
) -> tuple[str, ...]:
    given = flags.get("edition_ids")
    configured = pick("edition_ids", "GEOIPUPDATE_EDITION_IDS", "EditionIDs")
    if given:
        editions = _split(given)
    elif configured:  # geoipupdate's settings name MaxMind editions only
        editions = (*_split(configured), DEFAULT_DBIP_EDITION)
    else:
        editions = (*(DEFAULT_EDITIONS if has_account else ()), DEFAULT_DBIP_EDITION)
    for edition in editions:
        if not _EDITION_ID.fullmatch(edition):
            raise UsageError(f"edition ID {edition!r} is not a MaxMind or DB-IP edition name")
    return tuple(dict.fromkeys(editions))


def _split(editions: str) -> tuple[str, ...]:
    return tuple(editions.replace(",", " ").split())


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


def update_databases(config: UpdateConfig, now: float) -> list[UpdateResult]:
    """Bring every configured edition up to date; the first failure raises DatabaseError.

    ``now`` picks DB-IP's month.
    """
    prepare_directory(config.directory)
    return [_update_one(config, edition, now) for edition in config.edition_ids]


def _update_one(config: UpdateConfig, edition_id: str, now: float) -> UpdateResult:
    if edition_id in DBIP_EDITIONS:
        return update_dbip(
            edition_id,
            config.directory,
            host=config.dbip_host,
            deadlines=config.deadlines,
            max_bytes=config.max_mmdb_bytes,
            now=now,
        )
    return update_edition(config, edition_id)


def update_edition(config: UpdateConfig, edition_id: str) -> UpdateResult:
    target = os.path.join(config.directory, f"{edition_id}.mmdb")
    check_target(target)
    date, md5 = _published(config, edition_id, target)
    if _md5_of(target) == md5:
        return UpdateResult(edition_id, target, updated=False, digest=md5, date=date)
    query = urllib.parse.urlencode({"date": date.replace("-", ""), "suffix": "tar.gz"})
    url = f"{config.host}/geoip/databases/{urllib.parse.quote(edition_id)}/download?{query}"
    with staged(target) as (partial, output), _download(config, url, target) as archive:
        modified = last_modified(archive.header("Last-Modified"))
        digest = _extract_mmdb(archive, output, target, config.max_mmdb_bytes)
        seal(output)
        if digest != md5:
            raise DatabaseError(target, f"downloaded {edition_id} has MD5 {digest}, not {md5}")
        check_database(partial, target, edition_id)
        install(partial, target, modified)
    return UpdateResult(edition_id, target, updated=True, digest=md5, date=date)


def _download(config: UpdateConfig, url: str, target: str) -> Download:
    return _ServiceDownload(url, target, config.deadlines, config.credentials)


class _ServiceDownload(Download):
    """A download from the update service, whose 401/403 means the credentials were refused."""

    def __enter__(self) -> _ServiceDownload:
        try:
            super().__enter__()
        except DownloadError as exc:
            if exc.status in {401, 403}:
                raise DatabaseError(
                    exc.path,
                    "the update service refused the account ID or licence key "
                    f"(HTTP {exc.status})",
                ) from exc
            raise
        return self


def _md5_of(path: str) -> str | None:
    """The MD5 of the file at ``path``, None when there is none."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DatabaseError(path, f"cannot read the installed database: {os_reason(exc)}") from exc
    return digest.hexdigest()


def _published(config: UpdateConfig, edition_id: str, target: str) -> tuple[str, str]:
    """The (date, md5) the service publishes for the edition, checked for shape."""
    query = urllib.parse.urlencode({"edition_id": edition_id})
    url = f"{config.host}/geoip/updates/metadata?{query}"
    with _download(config, url, target) as response:
        body = read_bounded(response, MAX_METADATA_BYTES, target, "update metadata")
    malformed = f"update metadata for {edition_id} is malformed"
    try:
        databases = json.loads(body)["databases"]
        (entry,) = (d for d in databases if d.get("edition_id") == edition_id)
        date, md5 = str(entry["date"]), str(entry["md5"]).lower()
    except RecursionError as exc:  # a reply of [[[[...]]]] nests deeper than Python recurses
        raise DatabaseError(target, f"{malformed} (nested too deeply)") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatabaseError(target, malformed) from exc
    if not _DATE.fullmatch(date) or not _MD5.fullmatch(md5):
        raise DatabaseError(target, malformed)
    return date, md5


def read_bounded(download: Download, limit: int, target: str, what: str) -> bytes:
    """The whole body, which must not be longer than ``limit`` bytes."""
    blocks: list[bytes] = []
    size = 0
    for block in iter(lambda: download.read(1 << 16), b""):
        size += len(block)
        if size > limit:
            raise DatabaseError(target, f"{what} from {download.url} is larger than {limit} bytes")
        blocks.append(block)
    return b"".join(blocks)


def _extract_mmdb(archive: Download, output: IO[bytes], target: str, limit: int) -> str:
    """Copy the archive's first .mmdb member to ``output``; returns its MD5."""
    try:
        limited = cast("IO[bytes]", _Limited(archive, limit, target))
        with tarfile.open(fileobj=limited, mode="r|gz") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".mmdb"):
                    if member.size > limit:
                        raise too_large(target, limit)
                    source = tar.extractfile(member)
                    if source is None:
                        break
                    return copy_with_md5(source, output, target, limit)
    except (tarfile.TarError, EOFError, ValueError, MemoryError) as exc:
        raise DatabaseError(target, f"downloaded archive is damaged: {exc}") from exc
    raise DatabaseError(target, "downloaded archive holds no .mmdb file")


def copy_with_md5(source: IO[bytes], output: IO[bytes], target: str, limit: int) -> str:
    """Copy ``source`` to ``output``, at most ``limit`` bytes (a gzip bomb stops here)."""
    digest = hashlib.md5(usedforsecurity=False)  # MaxMind publishes MD5; the check is integrity
    written = 0
    for block in iter(lambda: source.read(1 << 20), b""):
        written += len(block)
        if written > limit:
            raise too_large(target, limit)
        digest.update(block)
        output.write(block)
    return digest.hexdigest()


class _Limited:
    """A read-only stream that fails past ``limit`` bytes: a bound on a hostile download."""

    def __init__(self, stream: Download, limit: int, target: str) -> None:
        self._stream = stream
        self._left = limit
        self._limit = limit
        self._target = target

    def read(self, size: int = -1) -> bytes:
        block = self._stream.read(1 << 16 if size < 0 else size)
        self._left -= len(block)
        if self._left < 0:
            raise too_large(self._target, self._limit)
        return block


def default_update_flags(
    *,
    account_id: str | None = None,
    license_key: str | None = None,
    edition_ids: Sequence[str] = (),
    directory: str | None = None,
    host: str | None = None,
    dbip_host: str | None = None,
) -> dict[str, str | None]:
    """The flags mapping load_config takes, from the command line's values."""
    return {
        "account_id": account_id,
        "license_key": license_key,
        "edition_ids": " ".join(edition_ids) or None,
        "directory": directory,
        "host": host,
        "dbip_host": dbip_host,
    }
