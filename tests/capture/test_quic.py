"""QUIC v1 client Initials: the RFC 9001 vectors, gathering a ClientHello over packets and
datagrams, hostile datagrams, and the server_name as a sighting on every path of the reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.capture import read_capture
from auditor.model import NameSighting, NameSource
from auditor.names import client_hello_sni
from auditor.quic import (
    INITIAL_SALT_V1,
    ClientHelloCrypto,
    client_initial_crypto,
    client_initial_secrets,
    crypto_frames,
    hkdf_expand_label,
    hkdf_extract,
)
from fixtures.meeting import client_hello
from tests.capture.makecap import (
    Packet,
    PcapngSection,
    ether,
    ipv4,
    ipv6,
    padded_hello,
    pcap_file,
    pcapng_file,
    udp,
)
from tests.capture.oracle import tshark_names
from tests.capture.quicmake import (
    DCID,
    crypto_frame,
    hello_message,
    initial,
    initials,
    protect,
)
from tests.capture.util import read_checked

# RFC 9001 Appendix A.1 and A.2: the client's keys for DCID 0x8394c8f03e515708, its Initial
# packet's unprotected header, the CRYPTO frame it carries, and the whole protected packet.
A1_EXTRACTED = "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44"
A1_CLIENT_IN = "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"
A1_KEY, A1_IV, A1_HP = (
    "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c",
    "9f50449e04a0e810283a1e9933adedd2",
)  # fmt: skip
A2_HEADER = bytes.fromhex("c300000001088394c8f03e5157080000449e00000002")
A2_CRYPTO_FRAME = bytes.fromhex(
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff"
)
A2_PROTECTED = bytes.fromhex(
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934"
)
NAME = "quic.example"
CLIENT, SERVER = "10.0.0.1", "192.0.2.44"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::443"


def _gather(*datagrams: bytes) -> str | None:
    gather = ClientHelloCrypto()
    for datagram in datagrams:
        whole = gather.add(datagram)
        if whole is None:
            return None
        if whole:
            return client_hello_sni(gather.client_hello())
    return None


def test_rfc9001_a1_client_initial_keys() -> None:
    initial_secret = hkdf_extract(INITIAL_SALT_V1, DCID)
    assert initial_secret.hex() == A1_EXTRACTED
    assert hkdf_expand_label(initial_secret, b"client in", 32).hex() == A1_CLIENT_IN
    assert [k.hex() for k in client_initial_secrets(DCID)] == [A1_KEY, A1_IV, A1_HP]


def test_rfc9001_a2_client_initial_is_read() -> None:
    assert len(A2_PROTECTED) == 1200
    opened, chunks = client_initial_crypto(A2_PROTECTED)
    assert opened == DCID
    assert chunks == [(0, A2_CRYPTO_FRAME[4:])]
    assert _gather(A2_PROTECTED) == "example.com"


def test_the_test_helper_protects_as_rfc9001_a2() -> None:
    """The helper that builds the tests' packets is the RFC's protection, byte for byte."""
    payload = A2_CRYPTO_FRAME + bytes(1162 - len(A2_CRYPTO_FRAME))
    assert protect(A2_HEADER, 4, 2, payload, DCID) == A2_PROTECTED


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_a_hello_over_several_initials_is_gathered(parts: int) -> None:
    packets = initials(hello_message(padded_hello(NAME)), parts)
    assert len(packets) == parts
    assert _gather(*packets) == NAME
    assert _gather(b"".join(packets[:2]), *packets[2:]) == NAME  # coalesced in one datagram
    assert _gather(*reversed(packets)) == NAME  # pieces beyond a gap wait for it


def test_scattered_frames_ping_padding_and_ack_are_read_around() -> None:
    """Chrome scatters its hello in small CRYPTO frames, out of order, between PINGs and
    PADDING; a later Initial may acknowledge the server's."""
    message = hello_message(client_hello(NAME))
    pieces = [crypto_frame(i, message[i : i + 7]) for i in range(0, len(message), 7)]
    frames = b"".join([b"\x01\x00\x00" + piece for piece in reversed(pieces)])
    ack = b"\x02" + b"\x05\x00\x01\x00\x01\x02"  # largest 5, delay 0, one more range
    assert _gather(initial(ack + frames)) == NAME
    assert crypto_frames(b"\x03\x00\x00\x00\x00\x01\x02\x03" + crypto_frame(0, b"ab")) == [
        (0, b"ab")
    ]


def test_a_later_initial_to_the_servers_connection_id_keeps_the_first_keys() -> None:
    """RFC 9001 5.2: keys stay those of the first Initial's Destination Connection ID."""
    one, two = initials(hello_message(padded_hello(NAME)), 2)
    message = hello_message(padded_hello(NAME))
    half = -(-len(message) // 2)
    moved = initial(crypto_frame(half, message[half:]), 1, dcid=b"\x42" * 8, key_dcid=DCID)
    assert _gather(one, moved) == NAME
    assert _gather(one, two) == NAME


@pytest.mark.parametrize(
    "datagram",
    [
        pytest.param(initial(crypto_frame(0, b"\x02\x00\x00\x01x")), id="not-a-client-hello"),
        pytest.param(initial(crypto_frame(0, b"\x01\xff\xff\xff")), id="hello-too-long"),
    ],
)
def test_a_stream_that_holds_no_client_hello_ends_the_gathering(datagram: bytes) -> None:
    assert ClientHelloCrypto().add(datagram) is None


def test_packets_that_do_not_open_add_nothing() -> None:
    good = initial(crypto_frame(0, hello_message(client_hello(NAME))))
    tampered = good[:-1] + bytes([good[-1] ^ 1])
    assert client_initial_crypto(tampered) == (b"", [])
    assert client_initial_crypto(good, b"\x01" * 8) == (b"", [])  # another connection's keys
    other_version = good[:1] + b"\x00\x00\x00\x02" + good[5:]
    assert client_initial_crypto(other_version) == (b"", [])
    assert client_initial_crypto(b"\x40" + good[1:]) == (b"", [])  # a short header


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1400))
def test_arbitrary_datagrams_never_raise(datagram: bytes) -> None:
    client_initial_crypto(datagram)
    ClientHelloCrypto().add(b"\xc0\x00\x00\x00\x01" + datagram)


_GOOD = initial(crypto_frame(0, hello_message(client_hello(NAME))))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_GOOD) - 1), st.integers(0, 255)), max_size=6),
       st.integers(0, len(_GOOD)))  # fmt: skip
def test_mutated_initials_never_raise(edits: list[tuple[int, int]], cut: int) -> None:
    datagram = bytearray(_GOOD)
    for at, value in edits:
        datagram[at] = value
    gather = ClientHelloCrypto()
    gather.add(bytes(datagram[:cut]))
    gather.add(bytes(datagram))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_decrypted_payloads_never_raise(payload: bytes) -> None:
    """The frame parser behind the AEAD: reached only by well-formed packets, tested alone."""
    crypto_frames(payload)
    _gather(initial(payload))


# In a capture.


def _quic(datagram: bytes, *, v6: bool = False, sport: int = 50000, dport: int = 443) -> bytes:
    if v6:
        return ether(ipv6(CLIENT6, SERVER6, 17, udp(sport, dport, datagram)), 0x86DD)
    return ether(ipv4(CLIENT, SERVER, 17, udp(sport, dport, datagram)))


def _write(tmp_path: Path, frames: list[bytes], name: str = "q.pcap") -> Path:
    path = tmp_path / name
    if name.endswith(".pcapng"):
        packets: list[Packet | bytes] = [Packet(f, units=i) for i, f in enumerate(frames)]
        path.write_bytes(pcapng_file([PcapngSection(packets=packets)]))
    else:
        path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    return path


MEDIA = b"\x40" + bytes(300)  # a short-header packet: what most of a QUIC or Meet flow is


@pytest.mark.parametrize("name", ["q.pcap", "q.pcapng"])
@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("parts", [1, 2])
def test_quic_sni_is_a_sighting(tmp_path: Path, parts: int, v6: bool, name: str) -> None:
    packets = initials(hello_message(padded_hello(NAME)), parts)
    back = ether(ipv4(SERVER, CLIENT, 17, udp(443, 50000, MEDIA)))
    frames = [_quic(p, v6=v6) for p in packets] + [back] + [_quic(MEDIA, v6=v6)] * 20
    result = read_checked(_write(tmp_path, frames, name), parallel=True)
    assert result.names == (NameSighting(SERVER6 if v6 else SERVER, NAME, NameSource.SNI),)


def test_only_udp_to_443_is_read(tmp_path: Path) -> None:
    packet = initial(crypto_frame(0, hello_message(client_hello(NAME))))
    frames = [_quic(packet, dport=8443), _quic(packet, sport=443, dport=50001)]
    assert read_checked(_write(tmp_path, frames)).names == ()


@pytest.mark.parametrize(("before", "read"), [(1, True), (2, False)])
def test_only_a_directions_first_four_datagrams_are_looked_at(
    tmp_path: Path, before: int, read: bool
) -> None:
    """As for TCP, a hello gathered over datagrams must end by the budget's last but one (the
    buffer is dropped as the last arrives); a hello whole in one datagram may come last."""
    packets = initials(hello_message(padded_hello(NAME)), 2)
    frames = [_quic(packets[0]), *[_quic(MEDIA)] * before, _quic(packets[1])]
    result = read_checked(_write(tmp_path, frames), parallel=True)
    assert [n.name for n in result.names] == ([NAME] if read else [])
    whole = initial(crypto_frame(0, hello_message(client_hello(NAME))))
    for media, names in [(3, [NAME]), (4, [])]:
        path = _write(tmp_path, [*[_quic(MEDIA)] * media, _quic(whole)], "late.pcap")
        assert [n.name for n in read_checked(path, parallel=True).names] == names


FILLER = ether(ipv4("10.0.0.5", "192.0.2.9", 17, udp(4000, 8801, b"f" * 200)))


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_quic_hello_across_the_range_boundary(
    tmp_path: Path, ranges: list[int], kind: str
) -> None:
    one, two = initials(hello_message(padded_hello(NAME)), 2)
    frames = [_quic(one), *[FILLER] * 60, _quic(two), *[FILLER] * 20]
    path = _write(tmp_path, frames, f"b.{kind}")
    single = read_capture(path)
    assert single.names == (NameSighting(SERVER, NAME, NameSource.SNI),)
    assert read_capture(path, workers=2) == single
    assert ranges == [2]


@pytest.mark.parametrize("early", [2, 3, 4])
def test_the_quic_budget_is_kept_across_a_range_boundary(
    tmp_path: Path, ranges: list[int], early: int
) -> None:
    """Datagrams of the direction before the split count against its budget in the next."""
    packet = initial(crypto_frame(0, hello_message(client_hello(NAME))))
    frames = [*[_quic(MEDIA)] * early, *[FILLER] * 60, _quic(packet), *[FILLER] * 20]
    path = _write(tmp_path, frames)
    single = read_capture(path)
    assert [n.name for n in single.names] == ([NAME] if early < 4 else [])
    assert read_capture(path, workers=2) == single
    assert ranges == [2]


def test_quic_names_equal_tshark(tmp_path: Path, tshark: str) -> None:
    """tshark decrypts Initials and reassembles CRYPTO across them: the same servers named."""
    frames = [_quic(p) for p in initials(hello_message(padded_hello(NAME)), 2)]
    other = initials(hello_message(padded_hello("other.example", 900)), dcid=b"\x07" * 8)
    frames += [_quic(p, v6=True, sport=50001) for p in other]
    path = _write(tmp_path, frames)
    sni, _dns = tshark_names(tshark, path)
    names = read_checked(path, parallel=True).names
    assert {(n.address, n.name) for n in names} == sni == {
        (SERVER, NAME), (SERVER6, "other.example")
    }


