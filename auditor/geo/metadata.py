"""A database's metadata: sanity checks, layout, and the DatabaseInfo a report names it by."""

from __future__ import annotations

from maxminddb.reader import Metadata

from auditor.errors import DatabaseError
from auditor.geo.bundled import BUNDLED_ATTRIBUTION
from auditor.geo.layouts import Layout, detect_layout
from auditor.model import DatabaseInfo

# datetime cannot represent later than 9999-12-31; a build_epoch past it is corrupt, not old.
MAX_BUILD_EPOCH = 253_402_300_799

_ATTRIBUTION_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("GeoLite2", "GeoLite2 data created by MaxMind, https://www.maxmind.com (GeoLite2 EULA)"),
    ("DBIP", "IP Geolocation by DB-IP, https://db-ip.com (CC BY 4.0)"),
    ("ipinfo", "IP address data powered by IPinfo, https://ipinfo.io (CC BY-SA 4.0)"),
)


def one_line(exc: BaseException) -> str:
    """An exception as one line of text, whatever a C extension put in its message."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    return f"{message} ({type(exc).__name__})"


def check_metadata(path: str, metadata: Metadata, file_size: int) -> None:
    """DatabaseError when the metadata cannot be trusted: it would mislead every lookup."""
    database_type = metadata.database_type
    if not isinstance(database_type, str):
        raise DatabaseError(path, "corrupt database: database_type is not a string")
    if metadata.ip_version not in (4, 6):
        raise DatabaseError(path, f"corrupt database: ip_version {metadata.ip_version!r}")
    if metadata.record_size not in (24, 28, 32):
        raise DatabaseError(path, f"corrupt database: record_size {metadata.record_size!r}")
    build_epoch = metadata.build_epoch
    if not isinstance(build_epoch, int) or not 0 <= build_epoch <= MAX_BUILD_EPOCH:
        raise DatabaseError(path, f"corrupt database: build_epoch {build_epoch!r} out of range")
    tree_size = metadata.node_count * metadata.record_size // 4
    if metadata.node_count <= 0 or tree_size + 16 > file_size:
        raise DatabaseError(path, f"corrupt database: node_count {metadata.node_count!r}")


def layout_of(path: str, database_type: str) -> Layout:
    """The layout the database_type names; DatabaseError for one the auditor cannot read."""
    layout = detect_layout(database_type)
    if layout is None:
        raise DatabaseError(
            path,
            f"unsupported database_type {database_type!r}: not a City, Country, ASN, ISP, "
            "Enterprise, ip-location-db or IPinfo layout",
        )
    return layout


def database_info(path: str, metadata: Metadata) -> DatabaseInfo:
    return DatabaseInfo(
        path=path,
        database_type=metadata.database_type,
        build_epoch=metadata.build_epoch,
        ip_version=metadata.ip_version,
        node_count=metadata.node_count,
        description=_description(metadata.description),
        attribution=attribution_for(metadata.database_type),
    )


def _description(descriptions: object) -> str:
    if not isinstance(descriptions, dict) or not descriptions:
        return ""
    english = descriptions.get("en")
    chosen = english if isinstance(english, str) else next(iter(descriptions.values()))
    return chosen if isinstance(chosen, str) else ""


def attribution_for(database_type: str) -> str:
    """The credit a report must give for a database whose licence asks for one."""
    if database_type in BUNDLED_ATTRIBUTION:
        return BUNDLED_ATTRIBUTION[database_type]
    for prefix, text in _ATTRIBUTION_BY_PREFIX:
        if database_type.lower().startswith(prefix.lower()):
            return text
    if detect_layout(database_type) is Layout.IP_LOCATION_DB:
        return "ip-location-db, https://github.com/sapics/ip-location-db (see its source licence)"
    return ""
