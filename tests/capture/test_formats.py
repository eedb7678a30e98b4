"""pcap and pcapng in every byte order and timestamp form, gzip, and the flow fields."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from auditor.capture import read_capture
from auditor.model import Flow
from tests.capture.makecap import (
    Iface,
    Packet,
    PcapngSection,
    ether,
    ipv4,
    pcap_file,
    pcapng_file,
    raw_block,
    tcp,
    udp,
)
from tests.capture.util import write_and_read

CLIENT, SERVER = "10.0.0.1", "192.0.2.10"
OUT = ether(ipv4(CLIENT, SERVER, 17, udp(50000, 8801, b"m" * 100)))  # IP length 128
BACK = ether(ipv4(SERVER, CLIENT, 17, udp(8801, 50000, b"r" * 40)))  # IP length 68
SYN = ether(ipv4(CLIENT, SERVER, 6, tcp(40000, 443, 0x02)))  # 40
SYNACK = ether(ipv4(SERVER, CLIENT, 6, tcp(443, 40000, 0x12)))  # 40

MEDIA = Flow(17, CLIENT, 50000, SERVER, 8801, 2, 1, 256, 68, 1.5, 3.25, 1)
# The SYN at 4.0 is answered at 4.5: the handshake's round trip.
SIGNAL = Flow(6, CLIENT, 40000, SERVER, 443, 1, 1, 40, 40, 4.0, 4.5, 4, True, False, 0.5)


def _records() -> list[tuple[float, bytes]]:
    return [(1.5, OUT), (2.0, BACK), (3.25, OUT), (4.0, SYN), (4.5, SYNACK)]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, endian: str, nano: bool) -> None:
    result = write_and_read(tmp_path, pcap_file(_records(), endian=endian, nano=nano))
    assert result.flows == (MEDIA, SIGNAL)
    s = result.summary
    assert (s.format, s.compressed, s.link_types, s.packets) == ("pcap", False, (1,), 5)
    assert (s.ip_packets, s.ip_bytes, s.complete, s.warnings) == (5, 256 + 68 + 80, True, ())
    assert (s.first_seen, s.last_seen) == (1.5, 4.5)


def test_nanosecond_timestamps_keep_their_precision(tmp_path: Path) -> None:
    result = write_and_read(tmp_path, pcap_file([(1.000000123, OUT)], nano=True))
    assert result.flows[0].first_seen == pytest.approx(1.000000123, abs=1e-10)


def test_side_a_is_the_source_of_the_first_packet(tmp_path: Path) -> None:
    result = write_and_read(tmp_path, pcap_file([(1.0, BACK), (2.0, OUT)]))
    flow = result.flows[0]
    assert (flow.a, flow.a_port, flow.b, flow.b_port) == (SERVER, 8801, CLIENT, 50000)
    assert (flow.packets_ab, flow.bytes_ab, flow.packets_ba, flow.bytes_ba) == (1, 68, 1, 128)


def test_first_frame_counts_every_record(tmp_path: Path) -> None:
    arp = ether(bytes(28), ethertype=0x0806)
    result = write_and_read(tmp_path, pcap_file([(1.0, arp), (1.1, arp), (2.0, OUT)]))
    assert result.flows[0].first_frame == 3
    assert result.summary.skipped == {"non-IP ethertype 0x0806": 2}
    assert (result.summary.packets, result.summary.ip_packets) == (3, 1)


def test_out_of_order_timestamps_give_earliest_and_latest(tmp_path: Path) -> None:
    result = write_and_read(tmp_path, pcap_file([(5.0, OUT), (2.0, OUT), (9.0, BACK), (1.0, BACK)]))
    assert (result.flows[0].first_seen, result.flows[0].last_seen) == (1.0, 9.0)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_epb_spb_opb(tmp_path: Path, endian: str) -> None:
    packets: list[Packet | bytes] = [
        Packet(OUT, units=1_500_000),
        raw_block(endian, 4, b"\x00\x00\x00\x00"),  # name resolution block: skipped
        Packet(BACK, units=2_000_000, kind="opb"),
        Packet(OUT, kind="spb"),  # no timestamp: takes the previous packet's
        raw_block(endian, 0xBAD, b"\x00\x00\x7e\xe0abcd"),  # custom block: skipped
        Packet(SYN, units=4_000_000, comment=b"with options"),
        Packet(SYNACK, units=4_500_000),
    ]
    data = pcapng_file([PcapngSection(endian, packets=packets)])
    result = write_and_read(tmp_path, data)
    media = Flow(17, CLIENT, 50000, SERVER, 8801, 2, 1, 256, 68, 1.5, 2.0, 1)
    assert result.flows == (media, SIGNAL)
    assert (result.summary.format, result.summary.packets, result.summary.complete) == (
        "pcapng",
        5,
        True,
    )


def test_pcapng_sections_of_both_byte_orders_and_interfaces(tmp_path: Path) -> None:
    raw_ip = ipv4("198.51.100.7", SERVER, 17, udp(1000, 2000, b"z" * 12))  # 40 bytes
    first = PcapngSection(
        "<",
        interfaces=[Iface(1), Iface(101, tsresol=9)],  # Ethernet in us, raw IP in ns
        packets=[Packet(OUT, units=1_000_000), Packet(raw_ip, units=2_000_000_000, iface=1)],
    )
    second = PcapngSection(
        ">",
        interfaces=[Iface(228, tsresol=0x80 | 10, tsoffset=100)],  # 2^-10 s units, +100 s
        packets=[Packet(ipv4(SERVER, "198.51.100.7", 17, udp(2000, 1000)), units=512)],
    )
    result = write_and_read(tmp_path, pcapng_file([first, second]))
    assert result.summary.link_types == (1, 101, 228)
    flows = {(f.a, f.b): f for f in result.flows}
    assert flows[(CLIENT, SERVER)].first_seen == 1.0
    relay = flows[("198.51.100.7", SERVER)]
    assert (relay.first_seen, relay.last_seen) == (2.0, 100.5)
    assert (relay.packets_ab, relay.packets_ba, relay.bytes_ab, relay.bytes_ba) == (1, 1, 40, 28)
    assert relay.first_frame == 2


def test_packet_on_undefined_interface_is_skipped(tmp_path: Path) -> None:
    section = PcapngSection(packets=[Packet(OUT, units=1), Packet(OUT, units=2, iface=3)])
    result = write_and_read(tmp_path, pcapng_file([section]))
    assert result.summary.skipped == {"packet on undefined interface 3": 1}
    assert result.summary.packets == 2


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_gzip_is_read_transparently_whatever_the_name(tmp_path: Path, fmt: str) -> None:
    if fmt == "pcap":
        data = pcap_file(_records())
    else:
        data = pcapng_file([PcapngSection(packets=[Packet(r[1], units=0) for r in _records()])])
    result = write_and_read(tmp_path, gzip.compress(data), name="capture.pcap")
    assert result.summary.compressed
    assert result.summary.format == fmt
    assert result.summary.ip_packets == 5


def test_fcs_bits_in_the_link_type_field_are_ignored(tmp_path: Path) -> None:
    result = write_and_read(tmp_path, pcap_file(_records(), link_field_extra=0x14000000))
    assert result.summary.link_types == (1,)
    assert result.flows == (MEDIA, SIGNAL)


def test_progress_is_reported_up_to_the_total(tmp_path: Path) -> None:
    path = tmp_path / "p.pcap"
    path.write_bytes(pcap_file(_records()))
    calls: list[tuple[int, int]] = []
    read_capture(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert calls[-1] == (size, size)
    assert all(done <= total == size for done, total in calls)


def test_snap_length_does_not_change_byte_counts(tmp_path: Path) -> None:
    big = ether(ipv4(CLIENT, SERVER, 17, udp(50000, 8801, b"v" * 1400)))  # 1428 on the wire
    result = write_and_read(tmp_path, pcap_file([(1.0, big[:64], len(big))], snaplen=64))
    assert result.flows[0].bytes_ab == 1428
