"""Database age and staleness warnings."""

from __future__ import annotations

import hashlib
from pathlib import Path

from auditor.geo.bundled import COUNTRY_TYPE
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


def test_warnings_name_each_stale_database() -> None:
    fresh, old = _info("/db/fresh.mmdb", BUILT + 40 * DAY), _info("/db/old.mmdb")
    warnings = staleness_warnings([fresh, old], BUILT + 60 * DAY)
    assert warnings == [
        "/db/old.mmdb: database built 2026-06-17 is 60 days old (over 45); "
        "its locations may be out of date"
    ]
    assert staleness_warnings([fresh, old], BUILT + 60 * DAY, max_age_days=90) == []


def test_stale_bundled_data_says_how_to_get_fresher() -> None:
    bundled = DatabaseInfo(path="/x/auditor-country.mmdb", database_type=COUNTRY_TYPE,
                           build_epoch=BUILT)
    (warning,) = staleness_warnings([bundled], BUILT + 60 * DAY)
    assert "audit db update" in warning
    assert "audit db update" not in staleness_warnings([_info()], BUILT + 60 * DAY)[0]


def test_details_have_size_and_sha256(tmp_path: Path) -> None:
    path = tmp_path / "x.mmdb"
    path.write_bytes(b"abc" * 1000)
    details = details_of(_info(str(path)))
    assert details.size == 3000
    assert details.sha256 == hashlib.sha256(b"abc" * 1000).hexdigest()
