"""A database answer that is no ISO 3166 alpha-2 country code never lets a run pass (issue 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.utils import wrpcap

from auditor.audit import AuditRequest, run_audit
from auditor.model import (
    AuditResult,
    CountryAnswer,
    Evidence,
    Location,
    LocationFlag,
    OverallVerdict,
    PhysicsBound,
    RoundTrip,
    RoundTripKind,
    ServerEndpoint,
    ServerReason,
    Vantage,
    VantageSource,
    Verdict,
)
from auditor.policy import judge_findings, parse_policy
from fixtures.meeting import Server, meeting_packets, on_ethernet

mmdb_writer = pytest.importorskip("mmdb_writer")
netaddr = pytest.importorskip("netaddr")

CLIENT = "192.168.1.23"
CRAFTED = Server("81.2.69.160", 8801, "udp", 10)  # in the crafted block
CHINA = Server("81.2.70.9", 8801, "udp", 10)  # a plain, well-formed "CN"

# Allows every country the codes below resemble: read loosely, each one would pass.
ALLOW = ("CN", "EU")

# Each looks like a country code to a careless reader; none is one as a database must give it.
DEFECTIVE = {
    "full-width": "ＣＮ",
    "lower-case": "cn",
    "folds-to-ascii": "ſe",  # "ſe".upper() == "SE"
    "dotless-i": "ıt",  # "ıt".upper() == "IT"
    "region": "EU",
    "unassigned": "ZZ",
    "alpha-3": "CHN",
    "one-letter": "C",
}


def _database(path: Path, code: str) -> str:
    writer = mmdb_writer.MMDBWriter(
        ip_version=6, database_type="GeoLite2-Country", languages=["en"], ipv4_compatible=True
    )
    for network, iso in (("81.2.69.0/24", code), ("81.2.70.0/24", "CN")):
        country = {"iso_code": iso, "names": {"en": "crafted"}}
        record = {"country": country, "registered_country": country}
        writer.insert_network(netaddr.IPSet([network]), record)
    writer.to_db_file(str(path))
    return str(path)


def _audit(
    tmp_path: Path,
    code: str,
    servers: list[Server],
    *,
    allow: tuple[str, ...] = ALLOW,
    strict: bool = False,
) -> AuditResult:
    capture = tmp_path / "meeting.pcap"
    wrpcap(str(capture), on_ethernet(meeting_packets(CLIENT, servers), CLIENT))
    request = AuditRequest(
        captures=(str(capture),),
        databases=(_database(tmp_path / "crafted.mmdb", code),),
        policy=parse_policy(allow, strict=strict),
    )
    return run_audit(request)


@pytest.mark.parametrize("code", DEFECTIVE.values(), ids=DEFECTIVE.keys())
def test_defective_code_makes_the_run_incomplete(tmp_path: Path, code: str) -> None:
    result = _audit(tmp_path, code, [CRAFTED])
    (finding,) = result.findings
    assert finding.location.country == code  # the database really says it
    assert LocationFlag.DEFECTIVE in finding.location.flags
    assert finding.judgement.verdict is Verdict.UNKNOWN
    assert finding.judgement.reason.startswith("defective answer: ")
    assert repr(code) in finding.judgement.reason
    assert not result.complete
    assert (result.verdict, result.exit_status) == (OverallVerdict.INCOMPLETE, 2)


def test_a_violation_still_wins(tmp_path: Path) -> None:
    result = _audit(tmp_path, "ＣＮ", [CRAFTED, CHINA], allow=("EU",))
    assert result.exit_status == 1  # not a pass, and the violation is not hidden behind 2
    verdicts = {f.endpoint.ip: f.judgement.verdict for f in result.findings}
    assert verdicts == {CRAFTED.ip: Verdict.UNKNOWN, CHINA.ip: Verdict.VIOLATION}


def test_strict_counts_the_defective_answer_as_a_violation(tmp_path: Path) -> None:
    result = _audit(tmp_path, "ＣＮ", [CRAFTED], strict=True)
    (finding,) = result.findings
    assert finding.judgement.verdict is Verdict.VIOLATION
    assert finding.judgement.reason.startswith("defective answer: ")
    assert result.exit_status == 1


def test_a_well_formed_answer_is_not_defective(tmp_path: Path) -> None:
    result = _audit(tmp_path, "CN", [CRAFTED])
    (finding,) = result.findings
    assert LocationFlag.DEFECTIVE not in finding.location.flags
    assert (finding.judgement.verdict, result.exit_status) == (Verdict.ALLOWED, 0)


def test_round_trips_do_not_mend_a_defective_answer() -> None:
    """Physics alone would allow it (only CN within reach), yet the database broke its contract."""
    ip = CRAFTED.ip
    location = Location(
        ip, country="ＣＮ", answers=(CountryAnswer("crafted.mmdb", "ＣＮ", None),),
        flags=(LocationFlag.DEFECTIVE,),
    )
    trip = RoundTrip("meeting.pcap", RoundTripKind.TCP_HANDSHAKE, 0.004, 3)
    vantage = Vantage(39.9, 116.4, 50.0, VantageSource.GIVEN, "Beijing")
    bound = PhysicsBound("meeting.pcap", vantage, trip, 450.0, frozenset({"CN"}))
    endpoint = ServerEndpoint(ip, 10, 9000, 1, ("8801/udp",), ("udp",), 0.0, 1.0, 1,
                              ServerReason.PORT)
    (finding,) = judge_findings(
        [endpoint], [location], parse_policy(ALLOW), {ip: Evidence((trip,), (bound,))}
    )
    assert finding.judgement.verdict is Verdict.UNKNOWN
    assert finding.judgement.reason.startswith("defective answer: ")
