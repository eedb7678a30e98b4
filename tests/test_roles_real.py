"""Media and signalling told apart on the real meeting captures, end to end (bundled data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.audit import AuditRequest, run_audit
from auditor.model import Role, ServerReason
from auditor.policy import parse_policy

MEETINGS = Path("pcaps") / "meetings"


def _roles(shared: Path, name: str) -> dict[str, set[Role]]:
    request = AuditRequest(
        captures=(str(shared / MEETINGS / name),), databases=(), policy=parse_policy(["US"])
    )
    result = run_audit(request)
    return {f.endpoint.ip: {c.role for c in f.endpoint.roles} for f in result.findings}


@pytest.mark.parametrize(
    ("capture", "address", "roles"),
    [
        ("zoom.pcap", "109.94.160.99", {Role.MEDIA, Role.SIGNALLING}),  # 8801/udp + 443/tcp
        ("zoom.pcap", "52.202.62.236", {Role.SIGNALLING}),
        ("zoom.pcap", "193.122.35.237", {Role.MEDIA}),  # inside GTP-U
        ("teams.pcap", "52.113.194.132", {Role.SIGNALLING}),
        ("teams.pcap", "93.71.110.205", {Role.MEDIA, Role.STUN}),  # peer-to-peer RTP
        ("teams.pcap", "52.114.250.137", {Role.TURN_RELAY}),  # an MS-TURN allocation
        ("webex.pcap", "62.109.229.158", {Role.MEDIA, Role.SIGNALLING}),
        ("webex.pcap", "64.68.105.103", {Role.SIGNALLING}),
        ("webex.pcap", "78.46.237.91", {Role.WEB}),  # cp.pushwoosh.com over plain HTTP
        ("stun_google_meet.pcapng", "142.250.82.76", {Role.MEDIA, Role.STUN, Role.DTLS}),
        ("stun_wa_call.pcapng", "157.240.203.62", {Role.TURN_RELAY}),
    ],
)
def test_roles(shared_data: Path, capture: str, address: str, roles: set[Role]) -> None:
    assert roles <= _roles(shared_data, capture)[address]


def test_relayed_address_without_packets_is_an_endpoint(shared_data: Path) -> None:
    request = AuditRequest(
        captures=(str(shared_data / MEETINGS / "stun_dtls_rtp.pcapng"),),
        databases=(),
        policy=parse_policy(["US"]),
    )
    found = {f.endpoint.ip: f for f in run_audit(request).findings}
    relay = found["10.13.0.62"]  # XOR-RELAYED-ADDRESS of turn.l.google.com
    assert relay.endpoint.reason is ServerReason.SIGNALLED
    assert relay.endpoint.packets == 0
    assert [c.role for c in relay.endpoint.roles] == [Role.TURN_RELAY]
    assert "turn.l.google.com" in found["142.250.82.249"].endpoint.hostnames


def test_vantage_from_the_mapped_addresses_the_host_received(shared_data: Path) -> None:
    from auditor.geo import discover_databases
    from auditor.model import VantageSource

    request = AuditRequest(
        captures=(str(shared_data / MEETINGS / "stun_wa_call.pcapng"),),
        databases=tuple(discover_databases([], {})),
        policy=parse_policy(["US"]),
    )
    vantages = {b.vantage for f in run_audit(request).findings for b in f.evidence.bounds}
    assert {(v.source, v.label) for v in vantages} == {
        (VantageSource.STUN_MAPPED, "93.35.171.3 (IT)")
    }
