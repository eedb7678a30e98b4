"""Browser WebRTC dumps: Chromium's own getStats() output, and the webrtc-internals layout.

fixtures/webrtc/*.json were made with a real headless Chromium (fixtures/webrtc/make_dumps.py),
one peer to peer, one through a coturn TURN server. No public webrtc-internals dump with a
licence was found (those in public repositories carry none), so the internals layout is built
here, field for field as Chrome writes it: "<stats id>-<attribute>" series whose "values" are
JSON text.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import CaptureError
from auditor.model import SourceKind
from auditor.sources import read_source, sniff
from tests.sources.util import audit

WEBRTC = Path(__file__).resolve().parents[2] / "fixtures" / "webrtc"


def stats_of(path: Path) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in json.loads(path.read_text())}


def test_chromium_getstats_export_gives_the_used_pairs_remote_candidates() -> None:
    path = WEBRTC / "chromium-getstats-p2p.json"
    assert sniff(str(path)) is SourceKind.WEBRTC
    stats = stats_of(path)
    pairs = [s for s in stats.values() if s["type"] == "candidate-pair" and s["nominated"]]
    expected = {
        stats[p["remoteCandidateId"]]["address"]: (
            f"{stats[p['remoteCandidateId']]['port']}/udp", p["bytesSent"] + p["bytesReceived"],
        )
        for p in pairs
    }
    result = audit(path)
    got = {f.endpoint.ip: (f.endpoint.ports[0], f.endpoint.bytes) for f in result.findings}
    assert got == expected
    assert result.captures[0].format == "webrtc"
    assert any("no packets" in limit for limit in result.captures[0].limits)


def test_the_turn_server_of_a_local_relay_candidate_is_an_endpoint() -> None:
    path = WEBRTC / "chromium-getstats-relay.json"
    stats = stats_of(path)
    relay = next(s for s in stats.values()
                 if s["type"] == "local-candidate" and s["candidateType"] == "relay")
    turn_port = relay["url"].split("?")[0].rsplit(":", 1)[1]
    (finding,) = audit(path).findings  # TURN server and peer share this machine's address
    assert f"{turn_port}/udp" in finding.endpoint.ports
    remote = next(s for s in stats.values() if s["type"] == "remote-candidate")
    assert f"{remote['port']}/udp" in finding.endpoint.ports


def series(values: list[Any], stats_type: str) -> dict[str, Any]:
    return {"startTime": "2026-11-30T08:00:00.000Z", "endTime": "2026-11-30T08:01:00.000Z",
            "statsType": stats_type, "values": json.dumps(values)}


def internals_dump(stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A webrtc-internals dump: every stat as time series of its attributes."""
    flat: dict[str, Any] = {}
    for stat_id, attributes in stats.items():
        kind = attributes["type"]
        for name, value in attributes.items():
            flat[f"{stat_id}-{name}"] = series(
                value if isinstance(value, list) else [value, value], kind
            )
    return {"getUserMedia": [], "PeerConnections": {"12-1": {
        "pid": 12, "url": "https://meet.example/", "rtcConfiguration": "{}",
        "stats": flat, "updateLog": []}}, "UserAgent": "Chrome"}


MEETING: dict[str, dict[str, Any]] = {
    "T01": {"type": "transport", "selectedCandidatePairId": "CPa_b"},
    # the relay pair that carried the call: TURN server in China, SFU in Sweden behind it
    "CPa_b": {"type": "candidate-pair", "localCandidateId": "Ia", "remoteCandidateId": "Ib",
              "state": "succeeded", "nominated": True, "bytesSent": [0, 90000],
              "bytesReceived": [0, 410000], "packetsSent": [0, 300],
              "packetsReceived": [0, 900], "timestamp": [1796025600000, 1796025660000]},
    "Ia": {"type": "local-candidate", "address": "175.16.199.10", "port": 61000,
           "protocol": "udp", "candidateType": "relay", "relayProtocol": "tcp",
           "url": "turn:turn.example:443?transport=tcp"},
    "Ib": {"type": "remote-candidate", "address": "89.160.20.115", "port": 10000,
           "protocol": "udp", "candidateType": "srflx"},
    # checked, never answered: STUN requests went to this peer's host address
    "CPc_d": {"type": "candidate-pair", "localCandidateId": "Ic", "remoteCandidateId": "Id",
              "state": "failed", "nominated": False, "bytesSent": 0, "requestsSent": 4},
    "Ic": {"type": "local-candidate", "address": "", "port": 50000, "protocol": "udp",
           "candidateType": "host"},
    "Id": {"type": "remote-candidate", "address": "81.2.69.160", "port": 3478,
           "protocol": "udp", "candidateType": "host"},
    # never tried: not an endpoint
    "CPc_e": {"type": "candidate-pair", "localCandidateId": "Ic", "remoteCandidateId": "Ie",
              "state": "frozen", "nominated": False, "bytesSent": 0, "requestsSent": 0},
    "Ie": {"type": "remote-candidate", "address": "2a02:d180::9", "port": 3478,
           "protocol": "udp", "candidateType": "prflx"},
    # an mDNS host candidate: on the local network, its address hidden
    "CPc_f": {"type": "candidate-pair", "localCandidateId": "Ic", "remoteCandidateId": "If",
              "nominated": True, "bytesSent": 10},
    "If": {"type": "remote-candidate", "address": "4d2a.local", "port": 9, "protocol": "udp",
           "candidateType": "host"},
}


def test_internals_dump_endpoints_and_verdicts(tmp_path: Path, shared_data: Path) -> None:
    path = tmp_path / "webrtc_internals_dump.txt"
    path.write_text(json.dumps(internals_dump(MEETING), indent=1))
    assert sniff(str(path)) is SourceKind.WEBRTC
    db = shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb"
    from tests.test_cli import run

    status, out, err = run([str(path), "--allow", "EU", "--db", str(db), "--format", "json"])
    assert status == 1, err  # the TURN server in China
    report = json.loads(out)
    endpoints = {e["ip"]: e for e in report["endpoints"]}
    assert set(endpoints) == {"175.16.199.10", "89.160.20.115", "81.2.69.160"}
    turn = endpoints["175.16.199.10"]
    assert (turn["verdict"], turn["ports"], turn["bytes"], turn["packets"]) == (
        "violation", ["443/tcp"], 500000, 1200,
    )
    assert endpoints["89.160.20.115"]["verdict"] == "allowed"  # Sweden, behind the relay
    assert endpoints["81.2.69.160"]["packets"] == 4  # only the unanswered checks
    assert report["captures"][0]["skipped"] == {
        "remote candidate without an address (an mDNS name: on the local network)": 1,
    }
    assert report["captures"][0]["first_seen"] == "2026-11-30T08:00:00Z"


def test_gzip_dump_and_several_peer_connections(tmp_path: Path) -> None:
    dump = internals_dump(MEETING)
    dump["PeerConnections"]["13-1"] = dump["PeerConnections"]["12-1"]
    path = tmp_path / "dump.txt.gz"
    path.write_bytes(gzip.compress(json.dumps(dump).encode()))
    result = read_source(path)
    assert result.summary.compressed
    assert sum(f.packets for f in result.flows if f.b == "175.16.199.10") == 2400


def test_json_of_another_kind_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps([{"id": "x", "type": "codec", "timestamp": 1}]))
    assert sniff(str(path)) is SourceKind.WEBRTC  # reads like getStats()...
    with pytest.raises(CaptureError, match="no peer connection stats"):
        read_source(path)  # ...but holds no candidate pair


def test_the_browser_is_never_judged_even_in_a_single_private_flow(tmp_path: Path) -> None:
    # As in a public dump of a LAN call: one used pair, to a private address. Left to guess
    # from one flow, the endpoint stage would take the private peer for the capture's host.
    stats = [
        {"id": "CP1", "type": "candidate-pair", "localCandidateId": "L", "nominated": True,
         "remoteCandidateId": "R", "bytesSent": 500, "bytesReceived": 700, "timestamp": 1.0},
        {"id": "L", "type": "local-candidate", "address": "", "port": 49094,
         "protocol": "udp", "candidateType": "host"},
        {"id": "R", "type": "remote-candidate", "address": "192.168.1.217", "port": 47747,
         "protocol": "udp", "candidateType": "host"},
    ]
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(stats))
    (finding,) = audit(path).findings
    assert finding.endpoint.ip == "192.168.1.217"
