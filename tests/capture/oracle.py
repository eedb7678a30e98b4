"""tshark as the independent oracle: per-address packet counts and IP bytes."""

from __future__ import annotations

import ipaddress
import subprocess
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from auditor.model import Flow


def tshark_endpoint_packets(tshark: str, path: Path) -> Counter[str]:
    """Packets per address from ``-z endpoints,ip`` and ``-z endpoints,ipv6``."""
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-q", "-z", "endpoints,ip", "-z", "endpoints,ipv6"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[1].isdigit() and (":" in parts[0] or "." in parts[0]):
            counts[parts[0]] += int(parts[1])
    return counts


def tshark_ip_bytes(tshark: str, path: Path) -> Counter[str]:
    """IP-layer bytes per address of the outermost IP header (ip.len, or 40 + ipv6.plen)."""
    out = subprocess.run(
        [
            tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f",
            "-e", "ip.src", "-e", "ip.dst", "-e", "ip.len",
            "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.plen",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        fields = (line.split("\t") + [""] * 6)[:6]
        if fields[0] and fields[2]:
            src, dst, size = fields[0], fields[1], int(fields[2])
        elif fields[3] and fields[5]:
            src, dst, size = fields[3], fields[4], 40 + int(fields[5])
        else:
            continue
        counts[src] += size
        counts[dst] += size
    return counts


def flow_endpoints(flows: Iterable[Flow]) -> tuple[Counter[str], Counter[str]]:
    """Packets and bytes per address, as tshark's endpoint table sums them."""
    packets: Counter[str] = Counter()
    nbytes: Counter[str] = Counter()
    for flow in flows:
        for address in (flow.a, flow.b):
            packets[address] += flow.packets
            nbytes[address] += flow.bytes
    return packets, nbytes


def tshark_names(tshark: str, path: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(address, name) pairs tshark sees: TLS SNI (to the destination) and DNS answers.

    SNI: over TCP, and over QUIC, whose Initials tshark decrypts and whose CRYPTO frames it
    reassembles across packets (the same field; see tshark_quic_sni for QUIC alone).

    DNS: only A/AAAA records of the answer section, paired with the question's name, as the
    auditor reads them; tshark's ``dns.a`` also lists glue from the additional section, so the
    answer records are picked by position from ``dns.resp.type`` and ``dns.count.answers``.
    """
    sni: set[tuple[str, str]] = set()
    for line in _fields(tshark, path, "tls.handshake.extensions_server_name",
                        "ip.dst", "ipv6.dst", "tls.handshake.extensions_server_name"):  # fmt: skip
        v4, v6, names = [*line.split("\t"), "", ""][:3]
        server = (v4 or v6).split(",")[-1]  # the innermost (the TLS packet's) comes last
        # An address literal is not a server name (RFC 6066): the auditor drops those.
        sni.update((server, name.lower()) for name in names.split(",") if name and not _is_ip(name))
    dns: set[tuple[str, str]] = set()
    for line in _fields(tshark, path, "dns.flags.response==1 && dns.flags.rcode==0",
                        "dns.qry.name", "dns.count.answers", "dns.resp.type", "dns.a",
                        "dns.aaaa"):  # fmt: skip
        qname, count, types, a, aaaa = (line.split("\t") + [""] * 4)[:5]
        if not count:
            continue
        in_answers = types.split(",")[: int(count)]
        v4s, v6s = iter(a.split(",") if a else []), iter(aaaa.split(",") if aaaa else [])
        for rtype in in_answers:
            if rtype == "1":
                dns.add((next(v4s), qname.split(",")[0].lower()))
            elif rtype == "28":
                dns.add((next(v6s), qname.split(",")[0].lower()))
    return sni, dns


def tshark_quic_sni(tshark: str, path: Path) -> set[tuple[str, str]]:
    """(address, name) pairs of the ClientHellos tshark reads from QUIC Initials."""
    sni: set[tuple[str, str]] = set()
    for line in _fields(tshark, path, "quic && tls.handshake.extensions_server_name",
                        "ip.dst", "ipv6.dst", "tls.handshake.extensions_server_name"):  # fmt: skip
        v4, v6, names = [*line.split("\t"), "", ""][:3]
        server = (v4 or v6).split(",")[-1]
        sni.update((server, name.lower()) for name in names.split(",") if name and not _is_ip(name))
    return sni


def without_tcp(tshark: str, path: Path, out: Path) -> Path:
    """A copy of a capture without its TCP packets (so a name from QUIC is not one also sent
    over TCP): what both tshark and the auditor then read."""
    subprocess.run([tshark, "-n", "-r", str(path), "-Y", "not tcp", "-w", str(out)],
                   capture_output=True, check=True)  # fmt: skip
    return out


def _fields(tshark: str, path: Path, display_filter: str, *fields: str) -> list[str]:
    command = [tshark, "-n", "-r", str(path), "-Y", display_filter, "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
