"""Addresses STUN/TURN named become endpoints with their role; a STUN round trip is evidence."""

from __future__ import annotations

from auditor.endpoints import server_endpoints
from auditor.geo.roundtrips import round_trips
from auditor.merging import merge_endpoints
from auditor.model import (
    Flow,
    Role,
    RoundTripKind,
    ServerEndpoint,
    ServerReason,
    SignalledAddress,
    SignalledKind,
)
from auditor.signalled import signalled_endpoints

HOST = "192.168.1.5"
RELAY = "198.51.100.9"


def _signalled(kind: SignalledKind, address: str, port: int = 3478) -> SignalledAddress:
    return SignalledAddress(RELAY, HOST, kind, address, port)


def test_each_kind_becomes_an_endpoint_with_its_role() -> None:
    found = signalled_endpoints(
        [
            _signalled(SignalledKind.RELAYED, "203.0.113.7", 50000),
            _signalled(SignalledKind.MAPPED, "192.0.2.44", 61000),
            _signalled(SignalledKind.PEER, "203.0.113.99", 40000),
            _signalled(SignalledKind.MAPPED, HOST),  # the capture's own host: never judged
        ],
        frozenset({HOST}),
        "call.pcap",
        10.0,
    )
    by_ip = {e.ip: e for e in found}
    assert set(by_ip) == {"203.0.113.7", "192.0.2.44", "203.0.113.99"}
    relayed = by_ip["203.0.113.7"]
    assert [c.role for c in relayed.roles] == [Role.TURN_RELAY]
    assert RELAY in relayed.roles[0].evidence
    assert (relayed.packets, relayed.reason, relayed.ports) == (0, ServerReason.SIGNALLED, ())
    assert "port 50000" in relayed.roles[0].evidence
    assert [c.role for c in by_ip["192.0.2.44"].roles] == [Role.REFLEXIVE]
    assert [c.role for c in by_ip["203.0.113.99"].roles] == [Role.TURN_PEER]


def test_a_signalled_endpoint_is_the_one_its_fields_name() -> None:
    """Built field by field by position (auditor/frozen.py): equal to the endpoint the
    dataclass makes from its fields by name, every role of the address kept, in order."""
    found = signalled_endpoints(
        [
            _signalled(SignalledKind.RELAYED, "203.0.113.7", 50000),
            _signalled(SignalledKind.PEER, "203.0.113.7", 40000),
        ],
        frozenset({HOST}),
        "call.pcap",
        10.0,
    )
    (endpoint,) = found
    roles = endpoint.roles
    assert [claim.role for claim in roles] == [Role.TURN_RELAY, Role.TURN_PEER]
    assert endpoint == ServerEndpoint(
        ip="203.0.113.7", packets=0, bytes=0, flows=0, ports=(), protocols=(),
        first_seen=10.0, last_seen=10.0, first_frame=0, reason=ServerReason.SIGNALLED,
        captures=("call.pcap",), roles=roles,
    )  # fmt: skip
    assert type(endpoint) is ServerEndpoint


def test_a_relay_with_packets_keeps_its_counts_and_gains_the_role() -> None:
    flow = Flow(17, HOST, 50123, RELAY, 3478, 5, 5, 500, 500, 20.0, 30.0, 7)
    seen = server_endpoints([flow, Flow(17, HOST, 50124, "192.0.2.1", 53, 1, 1, 60, 90, 21.0,
                                        21.1, 8)])  # fmt: skip
    named = signalled_endpoints([_signalled(SignalledKind.RELAYED, RELAY)], frozenset({HOST}),
                                "call.pcap", 1.0)  # fmt: skip
    (merged,) = [e for e in merge_endpoints([seen, named]) if e.ip == RELAY]
    assert (merged.packets, merged.first_frame, merged.reason) == (10, 7, ServerReason.PORT)
    assert [c.role for c in merged.roles] == [Role.TURN_RELAY]
    assert merged.ports == ("3478/udp",)


def test_stun_transactions_are_round_trips() -> None:
    flows = [
        Flow(17, HOST, 50123, RELAY, 3478, 5, 5, 500, 500, 20.0, 30.0, 7,
             stun_delay=0.031, stun_samples=3),
        Flow(17, HOST, 50124, RELAY, 3479, 2, 2, 200, 200, 20.0, 30.0, 9,
             stun_delay=0.025, stun_samples=1),
    ]  # fmt: skip
    trips = round_trips("call.pcap", flows, frozenset({HOST}), 0.0)
    stun = [t for t in trips[RELAY] if t.kind is RoundTripKind.STUN]
    assert [(t.seconds, t.samples) for t in stun] == [(0.025, 4)]
