"""Flow export from the real exporter softflowd, against the capture it was made from.

softflowd replays each shared meeting capture as NetFlow v9, IPFIX (plain and RFC 5103
biflow) and v5 to the collector on 127.0.0.1; the endpoints (address, ports, protocols,
packets, flows) and verdicts must equal the capture's. Bytes differ only where softflowd counts
a short Ethernet frame's padding (it counts the frame less its link header; the capture reader
counts the IP total length): that padding is computed from the capture and checked exactly.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

from auditor.errors import CaptureError
from auditor.model import AuditResult, ServerReason, SourceKind
from auditor.sources import read_source, sniff
from tests.sources.softflowd import export, replay, softflowd
from tests.sources.util import audit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "netflow"
# Two-way meetings: Zoom (TCP and UDP media), Teams, Webex, WeChat (relays in China: a
# violation), Meet over IPv6 and a WebRTC STUN trace.
MEETINGS = ["zoom2.pcap", "teams.pcap", "webex.pcap", "wechat.pcap",
            "stun_google_meet.pcapng", "zeek_webrtc-stun.pcap"]
Facts = dict[str, tuple[object, ...]]


def endpoint_facts(result: AuditResult, physics: frozenset[str] = frozenset()) -> Facts:
    # Flow export cannot show what STUN/TURN messages say: addresses they name are left out.
    # Nor round trips or the STUN-mapped vantage: where the capture's physics bounded an
    # endpoint (``physics``), its verdict rests on evidence the export cannot carry.
    return {
        f.endpoint.ip: (
            "bounded by the capture's physics" if f.endpoint.ip in physics
            else f.judgement.verdict.value,
            f.endpoint.ports, f.endpoint.protocols, f.endpoint.packets, f.endpoint.flows,
        )
        for f in result.findings
        if f.endpoint.reason is not ServerReason.SIGNALLED
    }


def bounded(result: AuditResult) -> frozenset[str]:
    """Endpoints whose location a round trip from a known vantage bounded."""
    return frozenset(f.endpoint.ip for f in result.findings if f.evidence.bounds)


def padding_by_server(pcap: Path, servers: set[str]) -> dict[str, int]:
    """Ethernet padding bytes of short frames to and from each server (softflowd counts them)."""
    padding = dict.fromkeys(servers, 0)
    with pcap.open("rb") as stream:
        pcapng = pcap.suffix == ".pcapng"
        reader = dpkt.pcapng.Reader(stream) if pcapng else dpkt.pcap.Reader(stream)
        for _, frame in reader:
            ip = dpkt.ethernet.Ethernet(frame).data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
                continue
            length = ip.len if isinstance(ip, dpkt.ip.IP) else ip.plen + 40
            extra = len(frame) - 14 - length
            for address in (ip.src, ip.dst):
                text = str(ipaddress.ip_address(address))
                if text in padding and extra > 0:
                    padding[text] += extra
    return padding


@pytest.mark.parametrize("name", MEETINGS)
@pytest.mark.parametrize("version", [("9",), ("10",), ("10", "-b")], ids=["v9", "ipfix", "biflow"])
def test_export_gives_the_captures_endpoints_and_verdicts(
    shared_data: Path, tmp_path: Path, name: str, version: tuple[str, ...]
) -> None:
    pcap = shared_data / "pcaps" / "meetings" / name
    from_pcap = audit(pcap)
    from_export = audit(export(pcap, version[0], tmp_path, *version[1:]))
    physics = bounded(from_pcap)
    assert not bounded(from_export)
    assert endpoint_facts(from_export, physics) == endpoint_facts(from_pcap, physics)
    assert from_export.captures[0].format == SourceKind.NETFLOW
    if not physics:
        assert from_export.exit_status == from_pcap.exit_status
    pad = padding_by_server(pcap, set(endpoint_facts(from_pcap)))
    exported = {f.endpoint.ip: f.endpoint.bytes for f in from_export.findings}
    assert exported == {f.endpoint.ip: f.endpoint.bytes + pad[f.endpoint.ip]
                        for f in from_pcap.findings
                        if f.endpoint.reason is not ServerReason.SIGNALLED}


def test_wechat_violation_is_found_in_the_export(shared_data: Path, tmp_path: Path) -> None:
    pcap = shared_data / "pcaps" / "meetings" / "wechat.pcap"
    result = audit(export(pcap, "10", tmp_path))
    assert result.exit_status == 1
    assert any(f.location.country == "CN" for f in result.findings
               if f.judgement.verdict.value == "violation")


def test_v5_shows_the_ipv4_endpoints_and_says_it_cannot_show_ipv6(
    shared_data: Path, tmp_path: Path
) -> None:
    pcap = shared_data / "pcaps" / "meetings" / "stun_google_meet.pcapng"
    pcap_result = audit(pcap)
    physics = bounded(pcap_result)
    from_pcap = endpoint_facts(pcap_result, physics)
    result = audit(export(pcap, "5", tmp_path))
    ipv4 = {ip: facts for ip, facts in from_pcap.items() if ":" not in ip}
    assert len(ipv4) < len(from_pcap)
    assert endpoint_facts(result, physics) == ipv4
    assert any("IPv4 flows only" in limit for limit in result.captures[0].limits)


def test_sampling_rate_is_applied_and_said(tmp_path: Path) -> None:
    exact = read_source(FIXTURES / "zoom2-v9.flows")
    sampled = read_source(FIXTURES / "zoom2-v9-sampled-4.flows")
    assert any("1 in 4 packets" in limit for limit in sampled.summary.limits)
    assert not any("sampled" in limit for limit in exact.summary.limits)
    # softflowd counted one packet in four; scaled up, the estimate is near the true count.
    assert abs(sampled.summary.packets - exact.summary.packets) <= 0.1 * exact.summary.packets
    assert {f.b for f in sampled.flows} | {f.a for f in sampled.flows} == (
        {f.b for f in exact.flows} | {f.a for f in exact.flows}
    )


def test_the_report_says_what_flow_export_cannot_show() -> None:
    result = read_source(FIXTURES / "zoom2-ipfix.flows")
    assert result.names == ()
    limits = " ".join(result.summary.limits)
    assert "IPFIX" in limits
    assert "no server names" in limits


def test_cut_export_file_is_read_to_the_damage(tmp_path: Path) -> None:
    data = (FIXTURES / "zoom2-v9.flows").read_bytes()
    path = tmp_path / "cut.flows"
    path.write_bytes(data[:-10])
    assert sniff(str(path)) is SourceKind.NETFLOW
    result = read_source(path)
    assert not result.summary.complete
    assert any("offset" in w for w in result.summary.warnings)


def test_collect_command_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    """`audit collect` as a user runs it: readiness on stderr, softflowd, then the report."""
    binary = softflowd()
    pcap = shared_data / "pcaps" / "meetings" / "zoom2.pcap"
    kept = tmp_path / "kept.flows"
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", "collect", "--listen", "127.0.0.1:0", "--duration",
         "4", "--allow", "US,EU", "--format", "json", "-w", str(kept), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    ready = proc.stderr.readline()  # blocks until the collector has bound its socket
    assert ready.startswith("audit: listening on 127.0.0.1:"), ready
    port = ready.split(":")[2].split("/")[0]
    replay(binary, pcap, int(port), "9")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert [e["ip"] for e in report["endpoints"]] == ["144.195.73.154"]
    assert report["captures"][0]["format"] == "netflow"
    # The kept export is evidence: auditing it again gives the same endpoints.
    assert endpoint_facts(audit(kept)) == endpoint_facts(audit(pcap))


def test_collect_usage_errors() -> None:
    from tests.test_cli import run

    status, _, err = run(["collect", "--listen", "localhost", "--duration", "1", "--allow",
                          "EU"])
    assert status == 2
    assert "--listen wants ADDRESS:PORT" in err


@pytest.fixture(scope="module")
def nfdump() -> str:
    path = shutil.which("nfdump")
    if path is None:
        pytest.skip("nfdump is not installed (.ci/run installs it)")
    return path


def test_nfcapd_file_is_read_through_nfdump(shared_data: Path, nfdump: str) -> None:
    path = FIXTURES / "zoom2-v9.nfcapd"
    assert sniff(str(path)) is SourceKind.NETFLOW
    from_file = audit(path)
    pcap = shared_data / "pcaps" / "meetings" / "zoom2.pcap"
    assert endpoint_facts(from_file) == endpoint_facts(audit(pcap))
    assert "nfcapd" in from_file.captures[0].limits[0]
    # softflowd's v9 export of zoom2 as `audit collect` kept it (another run: other clock
    # times): the same flows, whichever collector wrote the file
    def counted(source: Path) -> set[tuple[object, ...]]:
        return {(f.protocol, f.a, f.a_port, f.b, f.b_port, f.packets_ab, f.packets_ba,
                 f.bytes_ab, f.bytes_ba) for f in read_source(source).flows}

    assert counted(path) == counted(FIXTURES / "zoom2-v9.flows")


def test_damaged_nfcapd_file_is_one_line_naming_it(tmp_path: Path, nfdump: str) -> None:
    path = tmp_path / "cut.nfcapd"
    path.write_bytes((FIXTURES / "zoom2-v9.nfcapd").read_bytes()[:600])
    with pytest.raises(CaptureError, match="nfdump cannot read it") as caught:
        read_source(path)
    assert str(caught.value).startswith(str(path))


def test_collect_on_a_busy_port_is_one_line_exit_2() -> None:
    import socket

    from tests.test_cli import run

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        status, _, err = run(["collect", "--listen", f"127.0.0.1:{port}", "--duration", "30",
                              "--allow", "EU", "--quiet"])
    assert status == 2
    assert err.splitlines() == [f"audit: error: 127.0.0.1:{port}: cannot listen: Address "
                                "already in use"]
