"""Database age and staleness warnings."""

from __future__ import annotations

import hashlib
from pathlib import Path

from auditor.geo.bundled import ASN_TYPE, COUNTRY_TYPE
from auditor.geo.dbinfo import (
    DEFAULT_MAX_AGE_DAYS,
    build_date,
    database_age_days,
    details_of,
    is_stale,
    staleness_warnings,
)
from auditor.model import DatabaseInfo

DAY = 86_400
BUILT = 1_781_725_900  # 2026-06-17


def _info(path: str = "/db/GeoLite2-City.mmdb", epoch: int = BUILT) -> DatabaseInfo:
    return DatabaseInfo(path=path, database_type="GeoLite2-City", build_epoch=epoch)


def test_age_in_days() -> None:
    assert database_age_days(_info(), BUILT + 10 * DAY) == 10
    assert database_age_days(_info(), BUILT - DAY) == 0  # built "in the future": a skewed clock
    assert build_date(_info()) == "2026-06-17"


def test_default_max_age_is_45_days() -> None:
    assert DEFAULT_MAX_AGE_DAYS == 45
    assert not is_stale(_info(), BUILT + 45 * DAY)
    assert is_stale(_info(), BUILT + 45 * DAY + 1)


def test_one_warning_names_every_stale_database() -> None:
    fresh, old = _info("/db/fresh.mmdb", BUILT + 40 * DAY), _info("/db/old.mmdb")
    older = _info("/db/older.mmdb", BUILT - 10 * DAY)
    warnings = staleness_warnings([fresh, old, older], BUILT + 60 * DAY)
    assert warnings == [
        "stale geolocation data (over 45 days old): /db/old.mmdb built 2026-06-17, 60 days "
        "ago; /db/older.mmdb built 2026-06-07, 70 days ago"
    ]
    assert staleness_warnings([fresh, old], BUILT + 60 * DAY, max_age_days=90) == []


def test_stale_bundled_data_is_named_once_with_how_to_get_fresher() -> None:
    country = DatabaseInfo(path="/x/auditor-country.mmdb", database_type=COUNTRY_TYPE,
                           build_epoch=BUILT)
    asn = DatabaseInfo(path="/x/auditor-asn.mmdb", database_type=ASN_TYPE, build_epoch=BUILT)
    (warning,) = staleness_warnings([country, asn], BUILT + 165 * DAY)
    assert "the bundled data (auditor-country.mmdb, auditor-asn.mmdb) built 2026-06-17, " \
        "165 days ago" in warning
    assert warning.count("165 days") == 1
    assert "'audit db update'" in warning
    assert "audit db update" not in staleness_warnings([_info()], BUILT + 60 * DAY)[0]


def test_details_have_size_and_sha256(tmp_path: Path) -> None:
    path = tmp_path / "x.mmdb"
    path.write_bytes(b"abc" * 1000)
    details = details_of(_info(str(path)))
    assert details.size == 3000
    assert details.sha256 == hashlib.sha256(b"abc" * 1000).hexdigest()
