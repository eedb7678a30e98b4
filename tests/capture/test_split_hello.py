"""A TLS ClientHello split over TCP segments (post-quantum key shares) is gathered and read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from auditor.capture import parallel, read_capture
from auditor.capture.taps import HELLOS_FULL
from auditor.model import NameSighting, NameSource
from tests.capture.makecap import (
    Packet,
    PcapngSection,
    ether,
    ipv4,
    padded_hello,
    pcap_file,
    pcapng_file,
    tcp,
    udp,
)
from tests.capture.oracle import tshark_names
from tests.capture.util import read_checked

CLIENT, SERVER = "10.0.0.1", "192.0.2.44"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::443"
NAME = "split.example"
ISN = 4_294_967_000  # the sequence numbers wrap inside the hello
MAC = "02:00:00:00:00:01"


def _segments(hello: bytes, parts: int) -> list[tuple[int, bytes]]:
    """(sequence number, payload) of ``hello`` cut into ``parts`` segments of at most 1448."""
    size = -(-len(hello) // parts)
    assert size <= 1448
    return [((ISN + i) & 0xFFFFFFFF, hello[i : i + size]) for i in range(0, len(hello), size)]


def _frames(order: list[tuple[int, bytes]], *, v6: bool = False, port: int = 40000) -> list[Any]:
    """The handshake, then the given segments of the client's hello, then the server's ACK."""
    client, server = (CLIENT6, SERVER6) if v6 else (CLIENT, SERVER)
    ip: Any = IPv6 if v6 else IP
    out = Ether(src=MAC, dst=MAC) / ip(src=client, dst=server)
    back = Ether(src=MAC, dst=MAC) / ip(src=server, dst=client)
    frames = [
        out / TCP(sport=port, dport=443, flags="S", seq=ISN - 1),
        back / TCP(sport=443, dport=port, flags="SA", seq=7, ack=ISN),
        out / TCP(sport=port, dport=443, flags="A", seq=ISN, ack=8),
    ]
    frames += [out / TCP(sport=port, dport=443, flags="PA", seq=s, ack=8) / p for s, p in order]
    frames.append(
        back / TCP(sport=443, dport=port, flags="A", seq=8, ack=(ISN + 2000) & 0xFFFFFFFF)
    )
    for i, frame in enumerate(frames):
        frame.time = 1_700_000_000 + i / 1000
    return frames


def _write(tmp_path: Path, frames: list[Any], name: str = "split.pcap") -> Path:
    path = tmp_path / name
    wrpcap(str(path), frames)
    return path


def _sni(v6: bool = False) -> tuple[NameSighting, ...]:
    return (NameSighting(SERVER6 if v6 else SERVER, NAME, NameSource.SNI),)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("parts", [2, 3])
def test_a_hello_split_over_segments_is_read(tmp_path: Path, parts: int, v6: bool) -> None:
    segments = _segments(padded_hello(NAME), parts)
    assert len(segments) == parts
    path = _write(tmp_path, _frames(segments, v6=v6))
    assert read_checked(path, parallel=True).names == _sni(v6)


@pytest.mark.parametrize("parts", [2, 3])
def test_split_hellos_equal_tshark(tmp_path: Path, tshark: str, parts: int) -> None:
    """tshark reassembles TCP: it and the auditor name the same servers."""
    frames = _frames(_segments(padded_hello(NAME), parts))
    frames += _frames(_segments(padded_hello("other.example", 1800), parts), v6=True, port=40001)
    path = _write(tmp_path, frames)
    sni, _dns = tshark_names(tshark, path)
    names = read_checked(path, parallel=True).names
    expected = {(SERVER, NAME), (SERVER6, "other.example")}
    assert {(n.address, n.name) for n in names} == sni == expected


def test_a_continuation_that_never_arrives_names_nothing(tmp_path: Path) -> None:
    first = _segments(padded_hello(NAME), 2)[:1]
    path = _write(tmp_path, _frames(first) + _frames(first, port=40001)[:4])
    result = read_checked(path, parallel=True)
    assert result.names == ()
    assert len(result.flows) == 2


def test_a_retransmitted_first_segment_adds_nothing(tmp_path: Path) -> None:
    one, two = _segments(padded_hello(NAME), 2)
    path = _write(tmp_path, _frames([one, one, two, two]))
    assert read_checked(path, parallel=True).names == _sni()


def test_segments_are_placed_by_sequence_number(tmp_path: Path) -> None:
    """A segment beyond a gap waits for the gap to fill; an overlapping one adds its new end."""
    hello = padded_hello(NAME)
    one, two, three = _segments(hello, 3)
    overlap = (one[0] + 100, hello[100 : len(one[1]) + 50])  # old bytes, then 50 new ones
    path = _write(tmp_path, _frames([one, three, overlap, two]))
    assert read_checked(path, parallel=True).names == _sni()


def test_a_continuation_before_its_first_segment_is_missed(tmp_path: Path) -> None:
    """The documented limit: gathering starts at the segment with the record header."""
    one, two = _segments(padded_hello(NAME), 2)
    path = _write(tmp_path, _frames([two, one]))
    assert read_checked(path).names == ()


def test_a_hello_must_end_within_the_directions_first_packets(tmp_path: Path) -> None:
    """The budget: the handshake and two segments leave four packets of the eight; a hello
    finished in the seventh packet is read, one finished in the eighth is not."""
    one, two = _segments(padded_hello(NAME), 2)
    for repeats, expected in [(3, _sni()), (4, ())]:
        path = _write(tmp_path, _frames([one, *[one] * repeats, two]))
        assert read_checked(path).names == expected


FILLER = ether(ipv4("10.0.0.5", "192.0.2.9", 17, udp(4000, 8801, b"f" * 200)))


def _straddling(hello: bytes) -> list[bytes]:
    """A split hello whose segments the byte-range boundary of two workers falls between."""
    segments = _segments(hello, 3)

    def seg(seq: int, payload: bytes) -> bytes:
        return ether(ipv4(CLIENT, SERVER, 6, tcp(40000, 443, 0x18, payload, seq=seq)))

    syn = ether(ipv4(CLIENT, SERVER, 6, tcp(40000, 443, 0x02, seq=ISN - 1)))
    return [syn, seg(*segments[0]), *[FILLER] * 60, *[seg(*s) for s in segments[1:]]] + [
        FILLER
    ] * 20


@pytest.fixture
def rereads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the serial re-reads from a range's start."""
    seen: list[int] = []
    real = parallel._read_on

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "_read_on", counting)
    return seen


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_hello_across_the_range_boundary(
    tmp_path: Path, ranges: list[int], rereads: list[int], kind: str
) -> None:
    frames = _straddling(padded_hello(NAME))
    path = tmp_path / f"b.{kind}"
    if kind == "pcap":
        path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    else:
        packets: list[Packet | bytes] = [Packet(f, units=i) for i, f in enumerate(frames)]
        path.write_bytes(pcapng_file([PcapngSection(packets=packets)]))
    one = read_checked(path)
    assert one.names == _sni()
    assert read_capture(path, workers=2) == one
    assert ranges == [2]
    assert rereads == [1]  # the second range saw the hello's direction: read again from there


def test_an_open_hello_the_next_range_never_sees_costs_no_reread(
    tmp_path: Path, ranges: list[int], rereads: list[int]
) -> None:
    frames = _straddling(padded_hello(NAME))
    frames = [f for f in frames if f == FILLER or frames.index(f) < 2]  # drop the continuation
    path = tmp_path / "o.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    one = read_checked(path)
    assert one.names == ()
    assert read_capture(path, workers=2) == one
    assert (ranges, rereads) == ([2], [])


def test_too_many_open_hellos_warn_and_the_rest_go_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("auditor.capture.taps.MAX_HELLOS", 3)
    servers = [f"192.0.2.{10 + n}" for n in range(5)]
    hellos = [_segments(padded_hello(f"s{n}.example"), 2) for n in range(5)]
    out = [Ether(src=MAC, dst=MAC) / IP(src=CLIENT, dst=server) for server in servers]
    # Every first segment before any second one: five hellos open at once.
    frames = [
        out[n] / TCP(sport=41000 + n, dport=443, flags="PA", seq=hellos[n][part][0])
        / hellos[n][part][1]
        for part in (0, 1)
        for n in range(5)
    ]
    for i, frame in enumerate(frames):
        frame.time = 1_700_000_000 + i / 1000
    result = read_checked(_write(tmp_path, frames), parallel=True)
    assert [(s.address, s.name) for s in result.names] == [
        (servers[n], f"s{n}.example") for n in range(3)
    ]
    assert HELLOS_FULL in result.summary.warnings


@pytest.mark.parametrize(("repeats", "expected"), [(4, True), (5, False)])
def test_the_hello_budget_is_kept_by_a_reread_across_the_boundary(
    tmp_path: Path, ranges: list[int], rereads: list[int], repeats: int, expected: bool
) -> None:
    """A re-read from the boundary goes on with the open hello but does not know the packets
    before it: a hello ending in the direction's last looked-at packet is still not read."""
    one, two = _segments(padded_hello(NAME), 2)

    def seg(seq: int, payload: bytes) -> bytes:
        return ether(ipv4(CLIENT, SERVER, 6, tcp(40000, 443, 0x18, payload, seq=seq)))

    syn = ether(ipv4(CLIENT, SERVER, 6, tcp(40000, 443, 0x02, seq=ISN - 1)))
    frames = [syn, seg(*one), *[FILLER] * 60, *[seg(*one)] * repeats, seg(*two), *[FILLER] * 20]
    path = tmp_path / "r.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    one_pass = read_checked(path)
    assert one_pass.names == (_sni() if expected else ())
    assert read_capture(path, workers=2) == one_pass
    assert (ranges, rereads) == ([2], [1])
