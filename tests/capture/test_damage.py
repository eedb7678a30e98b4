"""Files that are no captures, and captures damaged part-way: errors and partial reads."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import pytest

from auditor.capture import read_capture, source
from auditor.errors import CaptureError
from tests.capture.makecap import (
    Packet,
    PcapngSection,
    ether,
    ipv4,
    pcap_file,
    pcapng_file,
    raw_block,
    udp,
)
from tests.capture.util import read_checked, write_and_read

FRAME = ether(ipv4("10.0.0.1", "192.0.2.1", 17, udp(1, 2, b"d" * 1472)))  # 1514 bytes
OTHER = ether(ipv4("10.0.0.9", "192.0.2.1", 17, udp(1, 2, b"e" * 100)))
MB = 1 << 20


def _error(tmp_path: Path, data: bytes, name: str = "f.pcap") -> CaptureError:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CaptureError) as caught:
        read_capture(path)
    assert str(caught.value).startswith(str(path))
    return caught.value


def test_html_is_not_a_capture(tmp_path: Path) -> None:
    error = _error(tmp_path, b"<html><body>nope</body></html>")
    assert "not a pcap or pcapng file (magic 0x3c68746d)" in str(error)


def test_empty_and_tiny_files(tmp_path: Path) -> None:
    assert "empty file" in str(_error(tmp_path, b""))
    assert "too short" in str(_error(tmp_path, b"\xd4\xc3"))


def test_gzip_of_something_else(tmp_path: Path) -> None:
    error = _error(tmp_path, gzip.compress(b"hello world, no capture here"))
    assert "not a pcap or pcapng gzip-compressed data (magic 0x68656c6c)" in str(error)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path / "absent.pcap")
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (pcap_file([])[:23], "file ends inside the pcap file header (23 of 24 bytes)"),
        (pcap_file([])[:4] + struct.pack("<HH", 1, 4) + pcap_file([])[8:], "version 1.4"),
        (pcap_file([])[:4] + struct.pack("<HH", 2, 5) + pcap_file([])[8:], "version 2.5"),
        (pcap_file([], link_field_extra=0x00300000), "reserved bits set (0x00300001)"),
    ],
)
def test_bad_pcap_header(tmp_path: Path, header: bytes, message: str) -> None:
    assert message in str(_error(tmp_path, header))


def test_truncated_pcap_keeps_what_was_read(tmp_path: Path) -> None:
    data = pcap_file([(1.0, OTHER), (2.0, FRAME), (3.0, FRAME)])
    cut = len(data) - 700
    result = write_and_read(tmp_path, data[:cut])
    s = result.summary
    assert not s.complete
    offset = 24 + 16 + len(OTHER) + 16 + len(FRAME)
    assert s.warnings == (
        f"truncated record at offset {offset}: file ends inside a 1514-byte packet",
    )
    assert (s.packets, s.ip_packets) == (2, 2)
    assert sum(f.packets for f in result.flows) == 2


def test_pcap_cut_inside_a_record_header(tmp_path: Path) -> None:
    data = pcap_file([(1.0, OTHER), (2.0, FRAME)])
    result = write_and_read(tmp_path, data[: 24 + 16 + len(OTHER) + 9])
    assert not result.summary.complete
    assert "file ends inside a record header" in result.summary.warnings[0]
    assert result.summary.packets == 1


def test_huge_record_length_is_damage_not_an_allocation(tmp_path: Path) -> None:
    data = pcap_file([(1.0, OTHER)]) + struct.pack("<IIII", 2, 0, 0x7FFFFFFF, 0x7FFFFFFF) + FRAME
    result = write_and_read(tmp_path, data)
    assert not result.summary.complete
    assert "claims 2147483647 captured bytes" in result.summary.warnings[0]
    assert result.summary.packets == 1


def test_damaged_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(pcap_file([(float(i), FRAME) for i in range(400)]))
    damaged = data[: len(data) // 2]
    result = write_and_read(tmp_path, damaged)
    s = result.summary
    assert not s.complete
    assert s.compressed
    assert 0 < s.packets < 400
    assert "compressed data damaged" in s.warnings[0]


def test_truncated_pcapng(tmp_path: Path) -> None:
    data = pcapng_file([PcapngSection(packets=[Packet(OTHER, 1), Packet(FRAME, 2)])])
    result = write_and_read(tmp_path, data[:-100])
    assert not result.summary.complete
    assert "file ends inside a 1548-byte block" in result.summary.warnings[0]
    assert result.summary.packets == 1


def test_pcapng_block_length_mismatch(tmp_path: Path) -> None:
    data = bytearray(pcapng_file([PcapngSection(packets=[Packet(OTHER, 1), Packet(FRAME, 2)])]))
    data[-4:] = struct.pack("<I", 12)
    result = write_and_read(tmp_path, bytes(data))
    assert not result.summary.complete
    assert "length 1548 at its start, 12 at its end" in result.summary.warnings[0]


def test_pcapng_garbage_after_packets(tmp_path: Path) -> None:
    data = pcapng_file([PcapngSection(packets=[Packet(OTHER, 1)])]) + b"\xff" * 64
    result = write_and_read(tmp_path, data)
    assert not result.summary.complete
    assert result.summary.warnings[0].startswith("corrupt block length")
    assert result.summary.ip_packets == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:16], "file ends inside a 32-byte block"),
        (lambda d: d[:8] + b"\x00\x00\x00\x00" + d[12:], "bad byte-order magic"),
        (lambda d: d[:12] + struct.pack("<H", 2) + d[14:], "unsupported pcapng version 2.0"),
        (lambda d: d[:4] + struct.pack("<I", 21) + d[8:], "corrupt block length 21"),
    ],
)
def test_bad_pcapng_start(tmp_path: Path, mutate: object, message: str) -> None:
    data = pcapng_file([PcapngSection(packets=[Packet(OTHER, 1)])])
    assert message in str(_error(tmp_path, mutate(data), "f.pcapng"))  # type: ignore[operator]


def test_packet_before_any_interface(tmp_path: Path) -> None:
    data = pcapng_file([PcapngSection(interfaces=[], packets=[Packet(OTHER, 1)])])
    assert "packet block before any interface description" in str(_error(tmp_path, data))


def test_flows_past_the_table_are_counted_per_address_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("auditor.capture.limits.MAX_FLOWS", 3)
    frames = [
        ether(ipv4("10.0.0.1", "192.0.2.1", 17, udp(port, 9, b"x" * 30))) for port in range(5)
    ]
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap_file([(1.0, f) for f in frames] * 2))
    result = read_checked(path)
    assert len(result.flows) == 4  # three 5-tuples, then one record for the address pair
    spilled = result.flows[-1]
    assert (spilled.a_port, spilled.b_port, spilled.packets) == (3, 9, 4)
    assert result.summary.skipped == {}
    assert result.summary.ip_packets == 10
    assert result.summary.complete
    assert any("more than 3 flows" in w for w in result.summary.warnings)


def test_internal_errors_become_capture_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr("auditor.capture.pcap.PcapReader.run", broken)
    path = tmp_path / "ok.pcap"
    path.write_bytes(pcap_file([(1.0, OTHER)]))
    with pytest.raises(CaptureError, match="internal error while reading"):
        read_capture(path)


def _bomb(fmt: str, zeros: int) -> bytes:
    """A few good packets, then ``zeros`` bytes that deflate squeezes a thousandfold."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    if fmt == "pcap":
        # Zeros after good records read as empty records: counted, each skipped.
        head, filler = pcap_file([(float(i), OTHER) for i in range(3)]), bytes(MB)
    else:
        packets: list[Packet | bytes] = [Packet(OTHER, units=i) for i in range(3)]
        head = pcapng_file([PcapngSection(packets=packets)])
        filler = raw_block("<", 0x0BAD, bytes(MB - 12))  # custom blocks: skipped
    parts = [packer.compress(head)]
    parts += [packer.compress(filler) for _ in range(zeros // MB)]
    return b"".join([*parts, packer.flush()])


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_gzip_bomb_stops_with_a_warning_and_keeps_what_came_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr("auditor.capture.source.MIN_BOMB", 4 * MB)
    path = tmp_path / f"bomb.{fmt}.gz"
    path.write_bytes(_bomb(fmt, 64 * MB))
    assert path.stat().st_size * source.MAX_RATIO < 64 * MB
    result = read_capture(path)
    (warning,) = result.summary.warnings
    assert f"decompressed size exceeds {source.MAX_RATIO} times the compressed size" in warning
    offset = int(warning.rsplit(" ", 1)[1])
    assert 4 * MB <= offset < 8 * MB  # stopped soon after the floor, not at the end
    assert result.summary.complete is False
    assert sum(f.packets for f in result.flows) == 3  # the good packets before it are kept


def test_compressible_capture_below_the_ratio_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identical packets with advancing timestamps compress about 22 times: not a bomb."""
    monkeypatch.setattr("auditor.capture.source.MIN_BOMB", MB)
    data = pcap_file([(i / 1000, OTHER) for i in range(40_000)])
    assert len(data) > 4 * MB
    result = write_and_read(tmp_path, gzip.compress(data, 9), name="many.pcap.gz")
    assert result.summary.complete
    assert result.flows[0].packets == 40_000
