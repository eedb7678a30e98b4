"""The compiled loop calls FlowTable.look on a young UDP direction's packet only when look
would act on it (udp_looks in _loop.c): these check that a packet it skips is one the
pure-Python loop, which calls look on every one, leaves no trace of. The payloads are those
look acts on (DNS, QUIC Initials, STUN, TURN ChannelData, DTLS, RTP/RTCP, Zoom's framing,
tunnels) and those it does not, on the ports that change what it does."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.capture import fastpath
from auditor.capture.decode import decode_packet
from auditor.capture.fastpath import directions
from auditor.capture.flowtable import FlowTable
from auditor.capture.pcap import _pcap_records
from auditor.model import PayloadKind
from auditor.roles import payload_kind
from fixtures.meeting import client_hello
from tests.capture.makecap import dns_reply, ether, ipv4, ipv6, pcap_file, udp
from tests.capture.quicmake import hello_message, initials
from tests.capture.test_compiled_loop import assert_loops_agree, table_state, written

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
COOKIE = b"\x21\x12\xa4\x42"


@pytest.fixture(autouse=True)
def built() -> None:
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")


def compiled_kind(payload: bytes) -> int:
    from auditor.capture._loop import udp_payload_kind

    return udp_payload_kind(payload)


def python_kind(payload: bytes) -> int:
    return int(payload_kind(17, payload))


def test_every_stun_type_and_length_is_classified_as_python_does() -> None:
    """The C holds stun.CLASSIC_TYPES and the TURN methods: every type a payload starting with
    0-3 can have, with and without the magic cookie, lengths fitting or not."""
    for kind in range(0x400):
        for cookie in (COOKIE, b"\x11\x22\x33\x44"):
            for length, extra in ((0, 0), (0, 4), (4, 4), (5, 5), (5, 8), (8, 4), (12, 12)):
                payload = struct.pack(">HH", kind, length) + cookie + bytes(12) + b"x" * extra
                assert compiled_kind(payload) == python_kind(payload), (kind, cookie, length)
                assert compiled_kind(payload[:19]) == python_kind(payload[:19])


def test_every_first_two_bytes_are_classified_as_python_does() -> None:
    """RTP and RTCP by their second byte, DTLS versions, ChannelData lengths, QUIC versions."""
    tails = [bytes(30), b"\x00\x00\x00\x01" + bytes(4) + b"\x00\x00\x00\x07" + bytes(18)]
    for first in range(256):
        for second in range(256):
            for tail in tails:
                payload = bytes([first, second]) + tail
                assert compiled_kind(payload) == python_kind(payload), payload[:12]


@pytest.mark.parametrize("first", [*range(20, 64), 0x40, 0x47, 0x4F, 0xC0, 0xC3, 0xFF, 5, 0x80])
def test_versions_and_lengths_are_classified_as_python_does(first: int) -> None:
    seconds = [0x00, 0x01, 0x03, 0x6B, 0xFE]
    thirds = [0x00, 0x01, 0x05, 0x33, 0xFC, 0xFD, 0xFE, 0xFF]
    for second in seconds:
        for third in thirds:
            for size in range(4, 30):
                head = bytes([first, second, third, 0x00, 0x01, 0x43, 0xCF])
                payload = (head + bytes(size))[:size]
                assert compiled_kind(payload) == python_kind(payload), payload


def test_channel_data_lengths_are_classified_as_python_does() -> None:
    for channel in range(0x40, 0x50):
        for length in range(48):
            for size in range(4, 56):
                payload = (struct.pack(">BBH", channel, 1, length) + b"x" * 60)[:size]
                assert compiled_kind(payload) == python_kind(payload), (channel, length, size)


PREFIXES = [
    b"", b"\x00\x01", b"\x01\x01", b"\x00\x03", b"\x00\x17", b"\x40\x01", b"\x16\xfe\xfd", b"\x80",
    b"\x80\xc8", b"\x05", b"\xc3\x00\x00\x00\x01", b"\xc0\x6b\x33\x43\xcf",
]  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(PREFIXES), st.sampled_from([b"", COOKIE]), st.binary(max_size=60))
def test_random_payloads_are_classified_as_python_does(
    prefix: bytes, cookie: bytes, rest: bytes
) -> None:
    payload = prefix + cookie + rest if len(prefix) == 2 else prefix + rest
    for size in (len(payload), 4 + len(rest) % 40):
        assert compiled_kind(payload[:size]) == python_kind(payload[:size])


def _stun(kind: int, transaction: bytes, attributes: bytes = b"") -> bytes:
    return struct.pack(">HHI", kind, len(attributes), 0x2112A442) + transaction + attributes


def _xor_mapped(ip: bytes, port: int) -> bytes:
    xored = bytes(a ^ b for a, b in zip(ip, COOKIE, strict=True))
    value = struct.pack(">BBH", 0, 1, port ^ 0x2112) + xored
    return struct.pack(">HH", 0x0020, len(value)) + value


def _rtp(payload_type: int, ssrc: int) -> bytes:
    return struct.pack(">BBHII", 0x80, payload_type, 1, 160, ssrc) + bytes(20)


HELLO = hello_message(client_hello("meet.example"))
QUIC_INITIALS = [initials(HELLO)[0], *initials(HELLO, 2)]  # one whole, one in two parts
HELLOS = {2: initials(HELLO, 2), 3: initials(HELLO, 3)}  # a ClientHello over Initials
VXLAN_INNER = ether(ipv4("10.9.8.7", "203.0.113.80", 17, udp(40000, 8801, b"\x05" * 40)))

# What a UDP payload may be, by a number the strategy draws and a few bytes it varies.
PAYLOADS: list[Callable[[int], bytes]] = [
    lambda n: bytes(n % 80),  # zeros, as the bench's public servers send
    lambda n: bytes([n % 256]) * (n % 50),
    lambda n: _stun(0x0001, bytes([n % 3]) * 12),  # binding request
    lambda n: _stun(0x0101, bytes([n % 3]) * 12, _xor_mapped(bytes([198, 51, 100, n % 4]), n)),
    lambda n: _stun(0x0003, bytes(12)),  # TURN allocate
    lambda n: _stun(0x0101, bytes(12))[:19],
    lambda n: struct.pack(">HH", 0x4000 | n % 4, 5) + b"hello\0\0\0",  # ChannelData
    lambda n: b"\x16\xfe\xfd" + bytes(n % 30),  # DTLS
    lambda n: _rtp(111, n),  # RTP (SSRC 0: nothing)
    lambda n: _rtp(200 + n % 8, 1),  # RTCP
    lambda n: b"\x05" + bytes(23 + n % 3),  # Zoom's framing
    lambda n: QUIC_INITIALS[n % 3],
    lambda n: QUIC_INITIALS[n % 3][: n % 60],
    lambda n: b"\xc3\x00\x00\x00\x01" + bytes(n % 40),  # a QUIC long header, no Initial
    lambda n: b"\x40\x00\x00\x00\x01" + bytes(n % 40),  # short header
    lambda n: dns_reply("zoom.us", f"198.51.100.{n % 4}"),
    lambda n: b"\x08\x00\x00\x00\x00\x00\x05\x00" + VXLAN_INNER,  # VXLAN
    lambda n: b"\x30\xff" + struct.pack(">HI", 20 + n % 4, 1) + VXLAN_INNER[14:],  # GTP-U
]
PORTS = [53, 443, 443, 3478, 19302, 2152, 4789, 6081, 50000]
HOSTS = [("10.0.0.1", "198.51.100.7"), ("2001:db8::1", "2001:db8::7")]


@st.composite
def udp_frames(draw: st.DrawFn) -> list[tuple[float, bytes]]:
    """Packets of a few UDP conversations, both ways, in any order, each direction with up to
    some forty packets (its young ones are looked at: 4 to 443, 32 in all)."""
    conversations = draw(st.lists(
        st.tuples(st.sampled_from(HOSTS), st.sampled_from(PORTS), st.sampled_from(PORTS),
                  st.sampled_from([0, 0, 2, 3])),
        min_size=1, max_size=4,
    ))  # fmt: skip
    frames = []
    sent: dict[tuple[str, int, int], int] = {}
    for t in range(draw(st.integers(1, 120))):
        (client, server), cport, sport, parts = draw(st.sampled_from(conversations))
        src, dst, a, b = (client, server, cport, sport)
        if draw(st.booleans()):
            src, dst, a, b = (server, client, sport, cport)
        before = sent[src, a, b] = sent.get((src, a, b), -1) + 1
        payload = draw(st.sampled_from(PAYLOADS))(draw(st.integers(0, 255)))
        if parts and src == client and before < parts and draw(st.integers(0, 5)):
            payload = HELLOS[parts][before]  # the client's first datagrams: its hello
        segment = udp(a, b, payload)
        packet = ipv4(src, dst, 17, segment) if "." in src else ipv6(src, dst, 17, segment)
        frame = ether(packet, 0x0800 if "." in src else 0x86DD)
        if draw(st.integers(0, 9)) == 0:  # cut by the snap length
            frame = frame[: draw(st.integers(40, len(frame)))]
        frames.append((1_600_000_000 + t / 1000, frame))
    return frames


@EXAMPLES
@given(udp_frames())
def test_udp_payloads_leave_the_same_table(frames: list[tuple[float, bytes]]) -> None:
    """Every name, payload kind, signalled address, STUN round trip and tunnelled flow."""
    with written(pcap_file(frames)) as path:
        assert_loops_agree(path)


@EXAMPLES
@given(udp_frames(), st.booleans())
def test_udp_payloads_in_a_range_starting_mid_file(
    frames: list[tuple[float, bytes]], mid_file: bool
) -> None:
    """A range starting mid-file holds its sightings back (look's kinds are not kept there)."""
    from auditor.capture._loop import pcap_records

    records = bytearray(pcap_file(frames)[24:])

    def read(loop: Callable[..., Any]) -> object:
        ft = FlowTable()
        if mid_file:
            ft.orphans = []
        out = loop(records, 0, len(records), 0, True, False, ft, directions(ft), decode_packet)
        return out, table_state(ft)

    assert read(pcap_records) == read(_pcap_records)


def test_the_loop_skips_look_where_it_does_nothing() -> None:
    """Not a vacuous agreement: of a conversation's zero payloads to 443 (the public-100k
    bench's shape) look sees none, and of RTP it sees the first packet only."""
    from auditor.capture._loop import pcap_records

    frames = [
        ether(ipv4("10.0.0.1", "198.51.100.7", 17, udp(50000, 443, bytes(32)))),
        ether(ipv4("198.51.100.7", "10.0.0.1", 17, udp(443, 50000, bytes(32)))),
        ether(ipv4("10.0.0.1", "198.51.100.8", 17, udp(50000, 3478, _rtp(111, 7)))),
    ]
    records = bytearray(pcap_file([(1.0 + i, f) for i in range(5) for f in frames])[24:])
    ft = FlowTable()
    looked: list[int] = []
    into = directions(ft)

    def look(*args: Any) -> None:
        looked.append(args[5])
        into.look(*args)

    pcap_records(records, 0, len(records), 0, True, False, ft, into._replace(look=look),
                 decode_packet)  # fmt: skip
    assert looked == [0]
    assert list(ft.kinds.values()) == [PayloadKind.RTP]
