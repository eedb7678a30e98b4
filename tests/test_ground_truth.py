"""Server sides checked against nDPI's own classification of the real meeting captures.

nDPI prints a bidirectional flow as `first <-> second` in the order it first saw them, which is
client then server whenever the capture holds the flow's start. Those files were written by
nDPI's authors, not by us. Where nDPI's second side is the capture's own host (the capture began
mid-flow, or a peer reached the client first), the auditor by design judges the far side instead:
the client is never a server. Everywhere else the two must agree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.capture import read_capture
from auditor.endpoints import capture_hosts, choose_server

FLOW_LINE = re.compile(r"^\s*\d+\s+(TCP|UDP)\s+(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s")
# stun_msteams_unidir.pcapng holds one one-way flow only: nDPI prints no `<->` line for it.
MEETINGS = [
    "discord.pcap", "google_meet.pcapng", "rtp.pcapng", "skype-conference-call.pcap",
    "stun_dtls_rtp.pcapng", "stun_google_meet.pcapng", "stun_wa_call.pcapng",
    "stun_zoom.pcapng", "teams.pcap", "telegram_videocall.pcapng", "webex.pcap",
    "wechat.pcap", "zoom.pcap", "zoom2.pcap", "zoom_p2p.pcapng",
]


def _address(text: str) -> str:
    return text.strip("[]")


@pytest.mark.parametrize("name", MEETINGS)
def test_server_side_agrees_with_ndpi(shared_data: Path, name: str) -> None:
    folder = shared_data / "pcaps" / "meetings"
    flows = read_capture(folder / name).flows
    hosts = capture_hosts(flows)
    by_key = {}
    for flow in flows:
        by_key[(flow.protocol, flow.a, flow.a_port, flow.b, flow.b_port)] = flow
        by_key[(flow.protocol, flow.b, flow.b_port, flow.a, flow.a_port)] = flow
    checked, disagreements = 0, []
    for line in (folder / "ndpi-expected" / f"{name}.out").read_text().splitlines():
        match = FLOW_LINE.match(line)
        if match is None:
            continue
        protocol = 6 if match[1] == "TCP" else 17
        client, server = _address(match[2]), _address(match[4])
        found = by_key.get((protocol, client, int(match[3]), server, int(match[5])))
        if found is None:  # a flow nDPI saw inside a tunnel (GTP, ...): we read the outer IP
            continue
        side = choose_server(found, hosts)
        expected = client if server in hosts else server
        checked += 1
        if side is None or side.server != expected:
            disagreements.append(line.strip()[:120])
    assert checked > 0
    assert disagreements == []
