"""Property: the fast path and the general path (and two workers) read every capture alike."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import CaptureError
from fixtures.meeting import client_hello
from tests.capture.makecap import (
    Packet,
    PcapngSection,
    ah,
    dns_reply,
    ether,
    ext8,
    frag6,
    ipv4,
    ipv6,
    padded_hello,
    pcap_file,
    pcapng_file,
    tcp,
    udp,
)
from tests.capture.util import read_checked

V4_ADDRS = ["10.0.0.1", "10.0.0.2", "192.0.2.7", "198.51.100.3"]
V6_ADDRS = ["2001:db8::1", "2001:db8::2", "fe80::1"]
PORTS = [53, 443, 3478, 8801, 50000, 50001]
NAMES = ["zoom.us", "a.example", "x" * 63 + ".example"]


@st.composite
def transport(draw: st.DrawFn) -> tuple[int, bytes]:
    proto = draw(st.sampled_from([6, 17, 17, 1, 132]))
    sport, dport = draw(st.sampled_from(PORTS)), draw(st.sampled_from(PORTS))
    payload = b"p" * draw(st.integers(0, 300))
    named = draw(st.integers(0, 3)) == 0  # a payload that names a server, maybe cut short
    if named and proto == 6:
        payload = client_hello(draw(st.sampled_from(NAMES)))
    elif named and proto == 17:
        address = draw(st.sampled_from(V4_ADDRS + V6_ADDRS))
        payload = dns_reply(draw(st.sampled_from(NAMES)), address)
    if named and draw(st.booleans()):
        payload = payload[: draw(st.integers(0, len(payload)))]
    if proto == 6:
        flags = draw(st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11, 0x04]))
        return proto, tcp(sport, dport, flags, payload)
    if proto == 17:
        return proto, udp(sport, dport, payload)
    return proto, bytes(8) + payload


@st.composite
def network(draw: st.DrawFn, fragments: bool) -> tuple[int, bytes]:
    proto, segment = draw(transport())
    if draw(st.booleans()):
        src, dst = draw(st.sampled_from(V4_ADDRS)), draw(st.sampled_from(V4_ADDRS))
        options = b"\x01" * 4 * draw(st.sampled_from([0, 0, 0, 1, 10]))
        frag = 0
        if fragments and draw(st.integers(0, 5)) == 0:
            frag = draw(st.sampled_from([0x2000, 0x2000 | 3, 3, 0x4000]))
        ident = draw(st.integers(0, 3))
        total = draw(st.sampled_from([None, None, None, 0, 10]))
        packet = ipv4(
            src, dst, proto, segment, options=options, frag=frag, ident=ident, total=total
        )
        return 0x0800, packet
    src, dst = draw(st.sampled_from(V6_ADDRS)), draw(st.sampled_from(V6_ADDRS))
    chains: list[tuple[tuple[int, bytes], ...]] = [
        (),
        (),
        ((0, ext8()),),
        ((43, ext8(1)), (51, ah())),
    ]
    if fragments:
        chains.append(((44, frag6(draw(st.sampled_from([0, 0, 5])), True, 1)),))
    return 0x86DD, ipv6(src, dst, proto, segment, ext=draw(st.sampled_from(chains)))


@st.composite
def frame(draw: st.DrawFn, fragments: bool = True) -> bytes:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return ether(bytes(28), 0x0806)
    if kind == 1:
        return draw(st.binary(min_size=0, max_size=80))  # garbage
    ethertype, packet = draw(network(fragments))
    vlans = draw(st.sampled_from([(), (), (), (0x8100,), (0x88A8, 0x8100)]))
    data = ether(packet, ethertype, vlans)
    if draw(st.integers(0, 6)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # snap length
    return data


@st.composite
def split_hello(draw: st.DrawFn) -> list[bytes]:
    """The segments of a ClientHello too long for one, maybe repeated, lost, reordered or cut."""
    hello = padded_hello(draw(st.sampled_from(NAMES)), draw(st.sampled_from([200, 1500, 3000])))
    cuts = sorted(draw(st.lists(st.integers(1, len(hello) - 1), min_size=1, max_size=3)))
    isn = draw(st.sampled_from([0, 2**32 - 700, draw(st.integers(0, 2**32 - 1))]))
    bounds = [0, *cuts, len(hello)]
    segments = [((isn + a) % 2**32, hello[a:b]) for a, b in itertools.pairwise(bounds)]
    segments = [s for s in segments if s[1]]
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(segments) - 1))
        op = draw(st.sampled_from(["repeat", "drop", "swap"]))
        if op == "repeat":
            segments.insert(i, segments[i])
        elif op == "drop" and len(segments) > 1:
            del segments[i]
        elif op == "swap" and i + 1 < len(segments):
            segments[i], segments[i + 1] = segments[i + 1], segments[i]
    sport, dport = draw(st.sampled_from(PORTS)), draw(st.sampled_from(PORTS))
    if draw(st.booleans()):
        src, dst = draw(st.sampled_from(V4_ADDRS)), draw(st.sampled_from(V4_ADDRS))
        ip, ethertype = ipv4, 0x0800
    else:
        src, dst = draw(st.sampled_from(V6_ADDRS)), draw(st.sampled_from(V6_ADDRS))
        ip, ethertype = ipv6, 0x86DD  # type: ignore[assignment]
    frames = [
        ether(ip(src, dst, 6, tcp(sport, dport, 0x18, payload, seq=seq)), ethertype)
        for seq, payload in segments
    ]
    if draw(st.integers(0, 4)) == 0:
        i = draw(st.integers(0, len(frames) - 1))
        frames[i] = frames[i][: draw(st.integers(0, len(frames[i])))]  # snap length
    return frames


@st.composite
def capture(draw: st.DrawFn, fragments: bool = True, spb: bool = True) -> bytes:
    frames = draw(st.lists(frame(fragments), min_size=0, max_size=40))
    for group in draw(st.lists(split_hello(), max_size=2)):
        at = 0
        for segment in group:  # interleaved with the others, in their order
            at = draw(st.integers(at, len(frames)))
            frames.insert(at, segment)
            at += 1
    times = draw(st.lists(st.integers(0, 10**7), min_size=len(frames), max_size=len(frames)))
    endian = draw(st.sampled_from(["<", ">"]))
    if draw(st.booleans()):
        records = [(1_600_000_000 + t / 1000, f) for t, f in zip(times, frames, strict=True)]
        return pcap_file(records, endian=endian, nano=draw(st.booleans()))
    kinds = ["epb", "epb", "epb", "opb"] + (["spb"] if spb else [])
    packets: list[Packet | bytes] = [
        Packet(
            f,
            units=t,
            kind=draw(st.sampled_from(kinds)),
            comment=draw(st.sampled_from([None, None, b"c"])),
        )
        for t, f in zip(times, frames, strict=True)
    ]
    return pcapng_file([PcapngSection(endian, packets=packets)])


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(capture()))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


def _check(data: bytes, *, parallel: bool = False) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c"
        path.write_bytes(data)
        # Anything but CaptureError escaping fails the test.
        with contextlib.suppress(CaptureError):
            read_checked(path, parallel=parallel)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capture())
def test_fast_and_general_paths_agree(data: bytes) -> None:
    _check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_fast_and_general_paths_agree_on_damaged_files(data: bytes) -> None:
    _check(data)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capture())
def test_two_workers_read_as_one(data: bytes) -> None:
    _check(data, parallel=True)
