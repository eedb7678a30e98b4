"""`audit db info`: what it shows, that data cannot style it, and its exit statuses."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from auditor.cli import Environment, main
from auditor.geo.dbinfo import sha256_of
from tests.geo.conftest import MakeDb

BUILT = 1_781_725_900  # 2026-06-17
DAY = 86_400


def _run(
    argv: list[str], env: dict[str, str] | None = None, now: float = BUILT + 10 * DAY
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(stdout=out, stderr=err, env=env or {}, now=lambda: now)
    status = main(["db", *argv], environment)
    return status, out.getvalue(), err.getvalue()


def test_info_describes_each_database(make_db: MakeDb) -> None:
    path = make_db(
        "GeoLite2-City", {"1.0.0.0/8": {"country": {"iso_code": "AU"}}}, build_epoch=BUILT
    )
    status, out, err = _run(["info", "--db", path])
    assert (status, err) == (0, "")
    assert out.splitlines()[:7] == [
        path,
        "  type:         GeoLite2-City",
        "  built:        2026-06-17 (10 days ago)",
        "  IP versions:  IPv4 and IPv6",
        out.splitlines()[4],
        f"  size:         {Path(path).stat().st_size} bytes",
        f"  sha256:       {sha256_of(path)}",
    ]
    assert out.splitlines()[4].startswith("  nodes:        ")
    assert "GeoLite2 data created by MaxMind" in out


def test_info_marks_stale_databases(make_db: MakeDb) -> None:
    path = make_db(
        "GeoLite2-Country", {"1.0.0.0/8": {"country": {"iso_code": "AU"}}}, build_epoch=BUILT
    )
    _, out, _ = _run(["info", "--db", path], now=BUILT + 60 * DAY)
    assert "(60 days ago)  STALE: older than 45 days" in out
    _, out, _ = _run(["info", "--db", path, "--max-db-age", "90"], now=BUILT + 60 * DAY)
    assert "STALE" not in out


def test_info_json(make_db: MakeDb) -> None:
    path = make_db(
        "country ipv4", {"1.0.0.0/8": {"country_code": "AU"}}, ip_version=4, build_epoch=BUILT
    )
    status, out, _ = _run(["info", "--db", path, "--format", "json"], now=BUILT + 50 * DAY)
    (record,) = json.loads(out)["databases"]
    assert status == 0
    assert record["path"] == path
    assert record["type"] == "country ipv4"
    assert (record["build_date"], record["age_days"], record["stale"]) == ("2026-06-17", 50, True)
    assert (record["ip_version"], record["sha256"]) == (4, sha256_of(path))


def test_info_uses_the_audit_discovery_order(make_db: MakeDb) -> None:
    path = make_db("GeoLite2-ASN", {"1.0.0.0/8": {"autonomous_system_number": 1}})
    _, out, _ = _run(["info"], env={"AUDITOR_DB": path})
    assert out.startswith(f"{path}\n")
    _, out, _ = _run(["info"])
    assert "auditor-country.mmdb" in out
    assert "auditor-asn.mmdb" in out


def test_hostile_description_cannot_reach_the_terminal(tmp_path: Path) -> None:
    from tests.geo.conftest import write_mmdb

    path = write_mmdb(tmp_path / "x.mmdb", "GeoLite2-City\x1b[2J", {"1.0.0.0/8": {}})
    status, out, _ = _run(["info", "--db", path])
    assert status == 0
    assert "\x1b" not in out
    assert "GeoLite2-City\\x1b[2J" in out


def test_bad_databases_are_one_line_each_and_exit_2(make_db: MakeDb, tmp_path: Path) -> None:
    good = make_db("GeoLite2-ASN", {"1.0.0.0/8": {"autonomous_system_number": 1}})
    missing = str(tmp_path / "missing.mmdb")
    status, out, err = _run(["info", "--db", missing, "--db", good])
    assert status == 2
    assert out.startswith(f"{good}\n")
    assert err == f"audit db: error: {missing}: cannot open database: no such file\n"


def test_corrupt_shared_databases_exit_2(shared_data: Path) -> None:
    for path in sorted((shared_data / "mmdb" / "bad-data").rglob("*.mmdb")):
        status, out, err = _run(["info", "--db", str(path)])
        assert (status, out) == (2, "")
        assert err.count("\n") == 1
        assert err.startswith(f"audit db: error: {path}: ")


@pytest.mark.parametrize(
    ("argv", "status", "stream"),
    [
        ([], 2, "err"),
        (["frobnicate"], 2, "err"),
        (["--help"], 0, "out"),
        (["info", "-h"], 0, "out"),
    ],
)
def test_usage(argv: list[str], status: int, stream: str) -> None:
    got, out, err = _run(argv)
    assert got == status
    expected = "usage: audit db" if stream == "out" else "(audit db --help shows the options)"
    assert expected in (out if stream == "out" else err)
