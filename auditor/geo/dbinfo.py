"""Facts about the databases in use: age, staleness, checksum, for reports and `audit db info`."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.geo.bundled import BUNDLED_ATTRIBUTION
from auditor.model import DatabaseInfo

# The age past which a database is stale (a warning; a failure under --strict), for `audit`,
# `audit live` and `audit db info` alike.
DEFAULT_MAX_AGE_DAYS = 45
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class DatabaseDetails:
    """What `audit db info` shows for one database, beyond its DatabaseInfo."""

    info: DatabaseInfo
    size: int
    sha256: str


def database_age_days(info: DatabaseInfo, now: float) -> float:
    """Days since the database was built; 0 for one stamped in the future (a skewed clock)."""
    return max(0.0, (now - info.build_epoch) / _SECONDS_PER_DAY)


def build_date(info: DatabaseInfo) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(info.build_epoch))


def is_stale(info: DatabaseInfo, now: float, max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> bool:
    return database_age_days(info, now) > max_age_days


def staleness_warnings(
    databases: Iterable[DatabaseInfo], now: float, max_age_days: float = DEFAULT_MAX_AGE_DAYS
) -> list[str]:
    """At most one warning per run, naming every database older than ``max_age_days``: a
    line said once is read; the same sentence per database, on stderr and in the report,
    was not. The bundled data is named as such, with how to get fresher data."""
    stale = [info for info in databases if is_stale(info, now, max_age_days)]
    if not stale:
        return []
    bundled = [info for info in stale if info.database_type in BUNDLED_ATTRIBUTION]
    named = [_aged(info.path, info, now) for info in stale if info not in bundled]
    if bundled:
        names = ", ".join(os.path.basename(info.path) for info in bundled)
        oldest = min(bundled, key=lambda info: info.build_epoch)
        named.append(_aged(f"the bundled data ({names})", oldest, now))
    line = f"stale geolocation data (over {max_age_days:g} days old): " + "; ".join(named)
    if bundled:
        # The bundled data is every new user's first database: say how to get a fresher one.
        line += (". 'audit db update' fetches a fresher database (DB-IP's monthly City Lite, "
                 "no account needed), or give --db")
    return [line]


def _aged(name: str, info: DatabaseInfo, now: float) -> str:
    return f"{name} built {build_date(info)}, {int(database_age_days(info, now))} days ago"


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def details_of(info: DatabaseInfo) -> DatabaseDetails:
    return DatabaseDetails(info=info, size=os.path.getsize(info.path), sha256=sha256_of(info.path))


def ip_versions(info: DatabaseInfo) -> str:
    # An IPv6 mmdb holds IPv4 too, in its ::/96 subtree; an IPv4 one cannot hold IPv6.
    return "IPv4 and IPv6" if info.ip_version == 6 else "IPv4 only"
