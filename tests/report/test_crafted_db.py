"""End to end from a crafted database: hostile org and city names cannot colour or spoof output."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from auditor.model import AuditResult
from auditor.policy import judge_findings
from auditor.report import get_format
from auditor.report.escape import clean
from tests.report.factory import FIXED, capture, endpoint, policy
from tests.report.hostile import BENIGN, HOSTILE, SGR, UNSAFE, non_sgr_escapes

mmdb_writer = pytest.importorskip("mmdb_writer")
netaddr = pytest.importorskip("netaddr")

# mmdb stores UTF-8: a lone surrogate cannot be written into a database at all.
CASES = {key: value for key, value in HOSTILE.items() if key != "surrogate"}
IP = "81.2.69.160"  # public: documentation ranges are never looked up


def _write(path: Path, database_type: str, record: dict[str, object]) -> str:
    writer = mmdb_writer.MMDBWriter(
        ip_version=6,
        database_type=database_type,
        languages=["en"],
        description={"en": "crafted"},
        ipv4_compatible=True,
    )
    writer.insert_network(netaddr.IPSet(["81.2.69.0/24"]), record)
    writer.to_db_file(str(path))
    return str(path)


def _audit(tmp_path: Path, name: str) -> AuditResult:
    from auditor.geo import open_locator

    tmp_path.mkdir(exist_ok=True)
    country = {"iso_code": "CN", "names": {"en": name}}
    city = _write(
        tmp_path / "city.mmdb",
        "GeoLite2-City",
        {"country": country, "registered_country": country, "city": {"names": {"en": name}}},
    )
    asn = _write(
        tmp_path / "asn.mmdb",
        "GeoLite2-ASN",
        {"autonomous_system_number": 4134, "autonomous_system_organization": name},
    )
    with open_locator([city, asn]) as locator:
        location = locator.locate(IP)
        databases = locator.databases
    pol = policy()
    findings = judge_findings([endpoint(IP)], [location], pol)
    return AuditResult((capture(),), databases, pol, findings)


@pytest.mark.parametrize("value", CASES.values(), ids=CASES.keys())
def test_crafted_database_cannot_style_the_table(tmp_path: Path, value: str) -> None:
    benign_result = _audit(tmp_path / "benign", BENIGN)
    hostile_result = _audit(tmp_path / "hostile", value)
    assert hostile_result.findings[0].location.org == value  # the database really says it
    wide = replace(FIXED, width=400)
    benign = get_format("table", wide).render(benign_result)
    hostile = get_format("table", wide).render(hostile_result)
    assert non_sgr_escapes(hostile) == []
    assert sorted(SGR.findall(hostile)) == sorted(SGR.findall(benign))
    plain = get_format("text", wide).render(hostile_result)
    assert not UNSAFE.search(plain)
    assert plain.splitlines()[0].startswith("verdict: FAIL")
    assert f"AS4134 {clean(value)}" in plain  # shown, visibly escaped, not dropped
