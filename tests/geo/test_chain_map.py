"""CNAME chains behind DNS answers, and the HTML report's world map."""

from __future__ import annotations

import struct
from pathlib import Path

from auditor.audit import AuditRequest, run_audit
from auditor.capture import read_capture
from auditor.geo.vantage import parse_vantage
from auditor.model import HintSource, NameSource
from auditor.names import dns_answers, dns_names
from auditor.policy import parse_policy
from auditor.report.html import HtmlFormat
from auditor.report.interface import RenderOptions
from auditor.report.worldmap import disk_paths, world_map
from tests.capture.makecap import ether, ipv4, pcap_file, tcp, udp

CLIENT = "10.0.0.1"


def _name(text: str) -> bytes:
    return b"".join(bytes((len(p),)) + p.encode() for p in text.split(".")) + b"\x00"


def chained_reply(question: str, chain: list[str], address: str) -> bytes:
    """A DNS response: question -> chain[0] -> ... -> chain[-1] A address."""
    owners = [question, *chain]
    records = b""
    for owner, target in zip(owners, chain, strict=False):
        rdata = _name(target)
        records += _name(owner) + struct.pack(">HHIH", 5, 1, 60, len(rdata)) + rdata
    rdata = bytes(int(x) for x in address.split("."))
    records += _name(owners[-1]) + struct.pack(">HHIH", 1, 1, 60, 4) + rdata
    header = struct.pack(">HHHHHH", 1, 0x8180, 1, len(owners), 0, 0)
    return header + _name(question) + struct.pack(">HH", 1, 1) + records


def test_dns_names_keep_the_cname_chain_in_order() -> None:
    reply = chained_reply("meet.example.com", ["edge.cdn.example", "media-ams2-1.cdn.whatsapp.net"],
                          "192.0.2.9")  # fmt: skip
    assert dns_names(reply) == [
        ("meet.example.com", "192.0.2.9", False),
        ("edge.cdn.example", "192.0.2.9", True),
        ("media-ams2-1.cdn.whatsapp.net", "192.0.2.9", True),
    ]
    assert dns_answers(reply) == [("meet.example.com", "192.0.2.9")]


def test_a_cname_loop_ends() -> None:
    reply = chained_reply("a.example", ["b.example", "a.example", "b.example"], "192.0.2.9")
    assert [n for n, _, chained in dns_names(reply) if chained] == ["b.example"]


def _capture(tmp_path: Path, server: str, rtt: float) -> Path:
    reply = chained_reply("meet.example.com", ["media-ams2-1.cdn.whatsapp.net"], server)
    records = [
        (1.0, ether(ipv4(CLIENT, "9.9.9.9", 17, udp(53000, 53, bytes(12))))),
        (1.01, ether(ipv4("9.9.9.9", CLIENT, 17, udp(53, 53000, reply)))),
        (2.0, ether(ipv4(CLIENT, server, 6, tcp(40000, 443, 0x02)))),
        (2.0 + rtt, ether(ipv4(server, CLIENT, 6, tcp(443, 40000, 0x12)))),
        (2.0 + rtt + 0.0001, ether(ipv4(CLIENT, server, 6, tcp(40000, 443, 0x10)))),
    ]
    path = tmp_path / "chain.pcap"
    path.write_bytes(pcap_file(records))
    return path


def test_a_hint_found_only_in_the_cname_chain(tmp_path: Path) -> None:
    path = _capture(tmp_path, "81.2.69.161", 0.004)
    sightings = read_capture(str(path)).names
    assert [(s.name, s.source) for s in sightings] == [
        ("meet.example.com", NameSource.DNS),
        ("media-ams2-1.cdn.whatsapp.net", NameSource.CNAME),
    ]
    amsterdam = parse_vantage("Amsterdam")
    request = AuditRequest((str(path),), (), parse_policy(["EU"]), vantage=amsterdam)
    result = run_audit(request)
    (found,) = [f for f in result.findings if f.endpoint.ip == "81.2.69.161"]
    assert found.endpoint.hostnames == ("meet.example.com", "media-ams2-1.cdn.whatsapp.net")
    (hint,) = found.evidence.hints
    assert (hint.source, hint.place, hint.refuted) == (HintSource.CNAME, "Amsterdam", False)
    html = HtmlFormat(RenderOptions()).render(result)
    assert "<svg" in html
    assert "media-ams2-1.cdn.whatsapp.net" in html


def test_disk_crossing_the_antimeridian_is_cut() -> None:
    paths = disk_paths(-17.7, 178.0, 800)  # Fiji
    assert len(paths) == 2
    assert all("Z" not in p for p in paths)
    (whole,) = disk_paths(52.37, 4.9, 500)
    assert whole.endswith("Z")


def test_no_map_without_evidence() -> None:
    assert world_map([]) == ""
