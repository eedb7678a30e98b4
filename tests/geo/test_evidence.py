"""Round trips, physics, hints and the verdict rule, on captures whose round trips are fabricated
(so the right answer is known) and on the real meeting captures."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from pathlib import Path

import pytest

from auditor.audit import AuditRequest, CaptureOutcome, run_audit
from auditor.audit import _evidence as audit_evidence
from auditor.capture import read_capture
from auditor.endpoints import capture_hosts
from auditor.geo import Locator
from auditor.geo.evidence import CaptureTrips
from auditor.geo.roundtrips import round_trips
from auditor.geo.vantage import parse_vantage
from auditor.model import (
    AuditResult,
    Basis,
    EvidenceSource,
    Finding,
    Location,
    Policy,
    RoundTripKind,
    Vantage,
    Verdict,
)
from auditor.policy import parse_policy
from auditor.policy.judge import rule
from tests.capture.makecap import dns_reply, ether, ipv4, pcap_file, tcp, udp

CLIENT = "10.0.0.1"
SYN, SYN_ACK, ACK = 0x02, 0x12, 0x10
# Addresses of MaxMind's GeoIP2-City test database and the country it gives them.
SE_SERVER = "89.160.20.115"  # SE
US_SERVER = "216.160.83.57"  # US (registered GB)
GB_SERVER = "81.2.69.161"  # GB
CN_SERVER = "175.16.199.1"  # CN
AU_SERVER = "214.0.1.1"  # AU
SG_SERVER = "214.0.0.1"  # SG

Handshake = tuple[str, float, float]  # server, time of the SYN, round trip in seconds


def handshakes(trips: Sequence[Handshake], *, server_side: bool = False) -> bytes:
    """A capture of TCP handshakes from CLIENT, each answered after its round trip. With
    ``server_side``, CLIENT is the one answering (a capture taken on the server): its SYN/ACK
    leaves at once and the other side's ACK comes back after the round trip."""
    records: list[tuple[float, bytes]] = []
    for n, (server, at, rtt) in enumerate(trips):
        port = 40000 + n
        opener, answerer = (server, CLIENT) if server_side else (CLIENT, server)
        oport, aport = (443, port) if server_side else (port, 443)
        answered = at + (0.0001 if server_side else rtt)
        acked = answered + (rtt if server_side else 0.0001)
        records += [
            (at, ether(ipv4(opener, answerer, 6, tcp(oport, aport, SYN)))),
            (answered, ether(ipv4(answerer, opener, 6, tcp(aport, oport, SYN_ACK)))),
            (acked, ether(ipv4(opener, answerer, 6, tcp(oport, aport, ACK)))),
        ]
    records.sort(key=lambda r: r[0])
    return pcap_file(records)


def write(tmp_path: Path, data: bytes, name: str = "capture.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def city_db(shared_data: Path) -> str:
    return str(shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb")


def audit(
    captures: Sequence[Path], db: str | Sequence[str], allow: str, vantage: Vantage | None
) -> AuditResult:
    databases = (db,) if isinstance(db, str) else tuple(db)
    request = AuditRequest(
        captures=tuple(str(c) for c in captures),
        databases=databases,
        policy=parse_policy([allow]),
        vantage=vantage,
    )
    return run_audit(request)


def finding(result: AuditResult, ip: str) -> Finding:
    return next(f for f in result.findings if f.endpoint.ip == ip)


# --- round trips -----------------------------------------------------------------------------


def test_handshake_round_trip_is_the_shortest_syn_to_syn_ack(tmp_path: Path) -> None:
    path = write(tmp_path, handshakes([(US_SERVER, 1.0, 0.005), (US_SERVER, 2.0, 0.003)]))
    capture = read_capture(str(path))
    assert sorted(round(f.answer_delay or 0, 6) for f in capture.flows) == [0.003, 0.005]
    trips = round_trips(str(path), capture.flows, capture_hosts(capture.flows), 1.0)
    (trip,) = trips[US_SERVER]
    assert trip.kind is RoundTripKind.TCP_HANDSHAKE
    assert trip.seconds == pytest.approx(0.003, abs=1e-6)
    assert trip.samples == 2


def test_parallel_read_keeps_the_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, handshakes([(US_SERVER, 1.0 + i, 0.004 + i / 1000) for i in range(60)]))
    one = read_capture(str(path))
    two = read_capture(str(path), workers=2)
    assert sorted(f.answer_delay for f in one.flows if f.answer_delay) == sorted(
        f.answer_delay for f in two.flows if f.answer_delay
    )


def test_server_side_capture_measures_syn_ack_to_ack(tmp_path: Path) -> None:
    """On the server, the SYN/ACK leaves right after the SYN: that says nothing of the other
    side; its ACK of the SYN/ACK, a round trip later, does."""
    trips = [(US_SERVER, 1.0 + i, rtt) for i, rtt in enumerate((0.006, 0.004, 0.009))]
    path = write(tmp_path, handshakes(trips, server_side=True))
    capture = read_capture(str(path))
    hosts = capture_hosts(capture.flows)
    assert hosts == {CLIENT}
    (trip,) = round_trips(str(path), capture.flows, hosts, 1.0)[US_SERVER]
    assert (trip.kind, trip.samples) == (RoundTripKind.TCP_SERVER_SIDE, 3)
    assert trip.seconds == pytest.approx(0.004, abs=1e-6)
    # Read in byte ranges, the handshakes split across them keep the same answer.
    two = read_capture(str(path), workers=2)
    assert round_trips(str(path), two.flows, hosts, 1.0) == round_trips(
        str(path), capture.flows, hosts, 1.0
    )


def test_a_second_syn_is_no_ack(tmp_path: Path) -> None:
    """A retransmitted SYN after the SYN/ACK was not caused by it: no round trip."""
    data = pcap_file([
        (1.0, ether(ipv4(US_SERVER, CLIENT, 6, tcp(40000, 443, SYN)))),
        (1.0001, ether(ipv4(CLIENT, US_SERVER, 6, tcp(443, 40000, SYN_ACK)))),
        (1.0002, ether(ipv4(US_SERVER, CLIENT, 6, tcp(40000, 443, SYN)))),
        (1.0102, ether(ipv4(US_SERVER, CLIENT, 6, tcp(40000, 443, ACK)))),
    ])  # fmt: skip
    capture = read_capture(str(write(tmp_path, data)))
    assert round_trips("c", capture.flows, frozenset({CLIENT}), 1.0) == {}


def test_a_server_side_round_trip_refutes_like_any_other(tmp_path: Path, city_db: str) -> None:
    """A server in Stockholm whose client ACKs in 3 ms: the client is no Australian."""
    path = write(tmp_path, handshakes([(AU_SERVER, 1.0, 0.003)], server_side=True))
    result = audit([path], city_db, "EU", parse_vantage("Stockholm"))
    found = finding(result, AU_SERVER)
    assert [r.country for r in found.evidence.refutations] == ["AU"]
    assert found.judgement.verdict is not Verdict.ALLOWED


def test_dns_round_trip(tmp_path: Path) -> None:
    query = udp(53000, 53, b"\x00\x01" + bytes(10))
    answer = udp(53, 53000, dns_reply("zoomam104zc.zoom.us", GB_SERVER))
    data = pcap_file([
        (5.0, ether(ipv4(CLIENT, "9.9.9.9", 17, query))),
        (5.012, ether(ipv4("9.9.9.9", CLIENT, 17, answer))),
    ])  # fmt: skip
    capture = read_capture(str(write(tmp_path, data)))
    trips = round_trips("c", capture.flows, frozenset({CLIENT}), 5.0)
    (trip,) = trips["9.9.9.9"]
    assert (trip.kind, round(trip.seconds, 6)) == (RoundTripKind.DNS, 0.012)


def test_quic_delay_of_a_flow_the_capture_joined_is_not_used(tmp_path: Path) -> None:
    """A QUIC server may speak first on a connection already open: only a flow that began
    after the capture did gives a round trip."""
    records = []
    for start in (0.0, 10.0):
        port = 50000 + int(start)
        records += [
            (start + 0.5, ether(ipv4(CLIENT, US_SERVER, 17, udp(port, 443, bytes(30))))),
            (start + 0.501, ether(ipv4(US_SERVER, CLIENT, 17, udp(443, port, bytes(30))))),
        ]
    capture = read_capture(str(write(tmp_path, pcap_file(records))))
    trips = round_trips("c", capture.flows, frozenset({CLIENT}), 0.5)
    (trip,) = trips[US_SERVER]
    assert (trip.kind, trip.samples) == (RoundTripKind.QUIC, 1)


# --- physics ---------------------------------------------------------------------------------


def test_us_answer_in_3_ms_from_sweden_is_refuted(tmp_path: Path, city_db: str) -> None:
    path = write(tmp_path, handshakes([(US_SERVER, 1.0, 0.003)]))
    result = audit([path], city_db, "US", parse_vantage("Stockholm"))
    found = finding(result, US_SERVER)
    (refutation,) = found.evidence.refutations
    assert (refutation.source, refutation.country) == (EvidenceSource.DATABASE, "US")
    assert refutation.distance_km > 5000
    assert refutation.bound_km < 360  # 3 ms, the city's 50 km and the outlines' 10 km
    assert "US" not in (found.evidence.possible or ())
    # Allowed by the database alone; physics puts it in or near Sweden: outside a US policy.
    assert found.judgement.verdict is Verdict.VIOLATION
    assert found.judgement.basis is Basis.RTT


def test_far_server_in_200_ms_refutes_nothing(tmp_path: Path, city_db: str) -> None:
    path = write(tmp_path, handshakes([(US_SERVER, 1.0, 0.2), (CN_SERVER, 2.0, 0.2)]))
    result = audit([path], city_db, "US", parse_vantage("Stockholm"))
    for ip in (US_SERVER, CN_SERVER):
        assert finding(result, ip).evidence.refutations == ()
        assert finding(result, ip).evidence.bounds  # there is a bound; it rules nothing out
    assert finding(result, US_SERVER).judgement.verdict is Verdict.ALLOWED
    assert finding(result, CN_SERVER).judgement.verdict is Verdict.VIOLATION


def test_allowed_by_physics_alone(tmp_path: Path, city_db: str) -> None:
    """No database places the address, but 2 ms from Frankfurt reaches only DE and neighbours."""
    path = write(tmp_path, handshakes([("1.0.0.7", 1.0, 0.002)]))
    result = audit([path], city_db, "EU,CH", parse_vantage("Frankfurt"))
    found = finding(result, "1.0.0.7")
    assert found.location.answers == ()
    assert found.evidence.possible is not None
    assert "DE" in found.evidence.possible
    assert found.evidence.possible <= parse_policy(["EU,CH"]).allow
    assert (found.judgement.verdict, found.judgement.basis) == (Verdict.ALLOWED, Basis.RTT)
    # Without CH in the policy, physics alone cannot tell.
    narrow = finding(audit([path], city_db, "EU", parse_vantage("Frankfurt")), "1.0.0.7")
    assert narrow.judgement.verdict is Verdict.UNKNOWN


def test_locally_terminated_tcp_is_set_aside(tmp_path: Path, city_db: str) -> None:
    """An app terminating TCP on the device: servers on four continents in 1-2 ms."""
    servers = [SE_SERVER, US_SERVER, GB_SERVER, CN_SERVER, AU_SERVER, SG_SERVER]
    trips = [(s, 1.0 + i, 0.001 + i / 5000) for i, s in enumerate(servers)]
    path = write(tmp_path, handshakes(trips))
    for vantage in (parse_vantage("Stockholm"), None):
        result = audit([path], city_db, "US,EU", vantage)
        for ip in servers:
            evidence = finding(result, ip).evidence
            assert evidence.refutations == ()
            assert evidence.bounds == ()
            assert evidence.set_aside
            assert "not physical" in evidence.set_aside[0]
        assert any("set aside" in w for w in result.warnings)
        # The databases decide, as without round trips.
        assert finding(result, US_SERVER).judgement.verdict is Verdict.ALLOWED
        assert finding(result, CN_SERVER).judgement.verdict is Verdict.VIOLATION


def test_one_wrong_answer_is_refuted_not_the_capture(tmp_path: Path, city_db: str) -> None:
    trips = [(SE_SERVER, 1.0, 0.002), (SE_SERVER, 1.5, 0.003), (US_SERVER, 2.0, 0.003)]
    path = write(tmp_path, handshakes(trips))
    result = audit([path], city_db, "US,EU", parse_vantage("Stockholm"))
    assert not any("set aside" in w for w in result.warnings)
    assert [r.country for r in finding(result, US_SERVER).evidence.refutations] == ["US"]
    assert finding(result, SE_SERVER).evidence.refutations == ()


# --- scoring: a known world ------------------------------------------------------------------

# (server, true place, one-way fibre distance to it from Stockholm in km, the verdict the truth
# gives under EU): the test database is right about SE and GB, wrong about the "US" server,
# which this world puts in Stockholm.
WORLD = [
    (SE_SERVER, "Stockholm", 5, Verdict.ALLOWED),
    (US_SERVER, "Stockholm", 5, Verdict.ALLOWED),
    (GB_SERVER, "London", 1430, Verdict.VIOLATION),
    (CN_SERVER, "Changchun", 6900, Verdict.VIOLATION),
]


def test_score_in_a_known_world(tmp_path: Path, city_db: str) -> None:
    """Round trips from true distances (paths 1.5x the great circle, 5 ms of server time).
    Correct, wrong and abstained are counted apart; a wrong verdict fails the test."""
    trips = [
        (ip, 1.0 + i, 2 * 1.5 * km / 200_000 + 0.005) for i, (ip, _, km, _) in enumerate(WORLD)
    ]
    result = audit([write(tmp_path, handshakes(trips))], city_db, "EU", parse_vantage("Stockholm"))
    score = {"correct": 0, "wrong": 0, "abstained": 0}
    for ip, _place, _km, truth in WORLD:
        verdict = finding(result, ip).judgement.verdict
        if verdict is Verdict.UNKNOWN:
            score["abstained"] += 1
        else:
            score["correct" if verdict is truth else "wrong"] += 1
    assert score["wrong"] == 0, score
    # Without round trips the database's wrong US answer is a false violation under EU.
    blind = audit([write(tmp_path, handshakes(trips), "b.pcap")], city_db, "EU", None)
    assert finding(blind, US_SERVER).judgement.verdict is Verdict.VIOLATION
    assert finding(result, US_SERVER).judgement.verdict is not Verdict.VIOLATION
    assert score["correct"] >= 3, score


# --- the hard rule, on every real capture ----------------------------------------------------


def _refuted_and_used(found: Finding, policy: Policy) -> list[str]:
    """How a verdict rests on a country physics refutes, if it does."""
    judgement, ip = found.judgement, found.endpoint.ip
    refuted = {r.country for r in found.evidence.refutations}
    if judgement.verdict is Verdict.UNKNOWN:
        return []
    if judgement.basis is Basis.RTT:
        possible = found.evidence.possible or frozenset()
        wrong = [c for c in possible if rule(c, policy)[0] is not judgement.verdict]
        return [f"{ip}: {judgement.verdict} by physics, but {wrong} are possible"] if wrong else []
    if judgement.judged_country in refuted:
        return [f"{ip}: {judgement.verdict} on refuted {judgement.judged_country}"]
    return []


VANTAGES = ["Stockholm", "43.72,10.40", "New York", "Singapore", "-33.87,151.21"]


@pytest.mark.parametrize("vantage", VANTAGES)
def test_no_refuted_answer_is_ever_judged_allowed(shared_data: Path, vantage: str) -> None:
    """Whatever the vantage, a country physics refutes never decides a verdict."""
    captures = sorted((shared_data / "pcaps" / "meetings").glob("*.pcap*"))
    result = audit(captures, _bundled(), "US,EU", parse_vantage(vantage))
    problems = [p for f in result.findings for p in _refuted_and_used(f, result.policy)]
    assert problems == []
    assert any(f.evidence.bounds for f in result.findings)  # physics had something to say
    if vantage == "43.72,10.40":  # Pisa: Microsoft's front doors answer Teams in 11-13 ms
        every = result.findings
        pairs = {(r.country, f.endpoint.ip) for f in every for r in f.evidence.refutations}
        assert ("US", "13.107.18.11") in pairs
    for found in result.findings:
        refuted = {r.country for r in found.evidence.refutations}
        if found.judgement.verdict is Verdict.ALLOWED and found.judgement.basis is not Basis.RTT:
            assert found.judgement.judged_country not in refuted


def _bundled() -> list[str]:
    from auditor.geo.bundled import bundled_databases

    return bundled_databases()


def test_zoom_amsterdam_servers_are_not_violations(shared_data: Path) -> None:
    """Named zoomam104zc/zoomam105zc.zoom.us (Zoom's Amsterdam site); the bundled database says
    GB. Under US,EU they were false violations; the hint disputes the database."""
    zoom = shared_data / "pcaps" / "meetings" / "zoom.pcap"
    result = audit([zoom], _bundled(), "US,EU", None)
    for ip in ("213.19.144.104", "213.19.144.105"):
        found = finding(result, ip)
        assert found.judgement.verdict is not Verdict.VIOLATION, found.judgement.reason
        (hint,) = found.evidence.hints
        assert (hint.vendor, hint.place, hint.country) == ("Zoom", "Amsterdam", "NL")
        assert found.evidence.round_trips[0].kind is RoundTripKind.TCP_HANDSHAKE


class _Untouched(Sequence[Location]):
    """Places nobody may read."""

    def __len__(self) -> int:
        raise AssertionError("the places were read")

    def __getitem__(self, index: object) -> Location:  # type: ignore[override]
        raise AssertionError("the places were read")


def test_nothing_to_weigh_reads_no_place_and_infers_no_vantage() -> None:
    """A capture without a round trip or a name gives no evidence; the audit then builds no
    dict of every server's place, nor asks the locator where the capture was taken."""
    empty = CaptureTrips("a.pcap", {}, frozenset({"192.0.2.1"}), {})
    outcome = CaptureOutcome(None, (), None, empty)
    locator = typing.cast("Locator", None)  # asking it anything would fail
    assert audit_evidence([outcome], _Untouched(), locator, None) == {}
