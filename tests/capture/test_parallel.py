"""Two workers over byte ranges give exactly what one pass gives, across the boundary too."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from auditor.capture import parallel, read_capture
from auditor.capture.formats import opened
from auditor.errors import CaptureError
from tests.capture.makecap import (
    Iface,
    Packet,
    PcapngSection,
    ether,
    ipv4,
    pcap_file,
    pcapng_file,
    tcp,
    udp,
)

FILLER = ether(ipv4("10.0.0.5", "192.0.2.9", 17, udp(4000, 8801, b"f" * 200)))
FIRST = ether(ipv4("10.0.0.1", "192.0.2.1", 17, udp(5000, 53, b"q" * 32), ident=9, frag=0x2000))
LATER = ether(ipv4("10.0.0.1", "192.0.2.1", 17, b"x" * 16, ident=9, frag=5))
ORPHAN = ether(ipv4("10.0.0.1", "192.0.2.1", 17, b"z" * 8, ident=77, frag=20))


def _frames() -> list[bytes]:
    # The first fragment early, its later fragment and an orphan late: the split falls between.
    return [FIRST, *[FILLER] * 60, LATER, ORPHAN, *[FILLER] * 20]


def test_pcap_fragment_across_the_boundary(tmp_path: Path, ranges: list[int]) -> None:
    path = tmp_path / "f.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(_frames())]))
    one = read_capture(path)
    two = read_capture(path, workers=2)
    assert ranges == [2]
    assert two == one
    by_port = {f.a_port: f for f in one.flows if f.a == "10.0.0.1"}
    assert (by_port[5000].packets, by_port[0].packets) == (2, 1)


def test_pcapng_fragment_across_the_boundary(tmp_path: Path, ranges: list[int]) -> None:
    packets: list[Packet | bytes] = [Packet(f, units=i) for i, f in enumerate(_frames())]
    path = tmp_path / "f.pcapng"
    path.write_bytes(pcapng_file([PcapngSection(packets=packets)]))
    one = read_capture(path)
    assert read_capture(path, workers=2) == one
    assert ranges == [2]


def test_progress_from_workers_reaches_the_total(tmp_path: Path, ranges: list[int]) -> None:
    path = tmp_path / "p.pcap"
    path.write_bytes(pcap_file([(float(i), FILLER) for i in range(200)]))
    calls: list[tuple[int, int]] = []
    read_capture(path, workers=2, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert calls[-1] == (size, size)
    assert ranges == [2]


def test_the_first_range_is_read_here_and_the_second_in_one_process(
    tmp_path: Path, ranges: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # This process reads too: a two-worker read forks one process, not two that it waits for.
    path = tmp_path / "p.pcap"
    path.write_bytes(pcap_file([(float(i), FILLER) for i in range(200)]))
    readers = tmp_path / "readers"
    read_span = parallel._read_span

    def noting(split: parallel.Ranges, start: int, *more: Any, **named: Any) -> Any:
        with readers.open("a") as noted:  # from the forked process too
            noted.write(f"{split.starts.index(start)} {os.getpid()}\n")
        return read_span(split, start, *more, **named)

    monkeypatch.setattr(parallel, "_read_span", noting)
    assert read_capture(path, workers=2) == read_capture(path)
    by_range = dict(line.split() for line in readers.read_text().splitlines()[:2])
    assert by_range["0"] == str(os.getpid())
    assert by_range["1"] != str(os.getpid())
    assert ranges == [2]


def test_second_section_in_the_first_range_is_handled(tmp_path: Path, ranges: list[int]) -> None:
    # The second range assumes the first section's interfaces; a new section before it means
    # that range is read again with the right state.
    first = PcapngSection(packets=[Packet(FILLER, units=i) for i in range(20)])
    second = PcapngSection(
        interfaces=[Iface(1, tsresol=9)],  # nanoseconds: same byte order, other state
        packets=[Packet(FILLER, units=10**9 * i) for i in range(60)],
    )
    path = tmp_path / "s.pcapng"
    path.write_bytes(pcapng_file([first, second]))
    one = read_capture(path)
    assert read_capture(path, workers=2) == one
    assert ranges == [2]
    assert one.summary.last_seen == 59.0


@pytest.mark.parametrize("flows", [40, 80])
def test_a_range_over_its_share_of_flows_is_read_in_one_pass(
    tmp_path: Path, ranges: list[int], monkeypatch: pytest.MonkeyPatch, flows: int
) -> None:
    """Each range may hold MAX_FLOWS / ranges keys, so that the merge holds at most MAX_FLOWS;
    a range holding more sends the file back to one pass, which gives what one pass gives."""
    monkeypatch.setattr("auditor.capture.limits.MAX_FLOWS", 50)
    many = [ether(ipv4("10.0.0.5", "192.0.2.9", 17, udp(5000 + i, 8801, b"m" * 200)))
            for i in range(flows)]  # fmt: skip
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate([*many, *[FILLER] * 90])]))
    one = read_capture(path)
    assert read_capture(path, workers=2) == one
    assert ranges == [2]
    spilled = flows + 1 > 50
    assert any("counted per address pair" in w for w in one.summary.warnings) == spilled
    assert len(one.flows) == min(flows + 1, 51)  # past 50: one more, for the address pair
    assert one.summary.ip_packets == flows + 90


def test_a_range_over_its_share_gives_up_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range whose table is full stops reading (the file goes back to one pass anyway) and
    sends back no table; the one pass still gives what one pass gives."""
    monkeypatch.setattr("auditor.capture.limits.MAX_FLOWS", 50)
    monkeypatch.setattr("auditor.capture.source.CHUNK", 4096)
    flows = [ether(ipv4("10.0.0.5", "192.0.2.9", 17, udp(1024 + i, 8801, b"m" * 200)))
             for i in range(2000)]  # fmt: skip
    path = tmp_path / "scan.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(flows)]))
    with opened(str(path)) as (_src, _head, fmt):
        ranges = parallel.split_ranges(str(path), fmt, 2)
    for index in (0, 1):
        result = parallel.read_range(ranges, index, fast=True)
        assert isinstance(result, parallel.Overflowed)
        assert 25 < result.frames < 200  # its share was 25 flows; the range holds 1000 packets
    assert parallel.merge_ranges(ranges, [parallel.Overflowed(0)] * 2, fast=True) is None
    assert read_capture(path, workers=2) == read_capture(path)


def test_simple_packets_at_a_range_start_take_the_previous_ranges_time(
    tmp_path: Path, ranges: list[int]
) -> None:
    """An SPB has no timestamp and takes the previous packet's; a range starting with SPBs
    does not know it, so the merge reads that range again once it does."""
    spb = ether(ipv4("10.0.0.7", "192.0.2.7", 17, udp(7000, 7001, b"s" * 100)))
    packets: list[Packet | bytes] = [Packet(FILLER, units=10**6 * (i + 1)) for i in range(20)]
    packets += [Packet(spb, kind="spb") for _ in range(200)]  # the split falls among these
    path = tmp_path / "spb.pcapng"
    path.write_bytes(pcapng_file([PcapngSection(packets=packets)]))
    one = read_capture(path)
    assert read_capture(path, workers=2) == one
    assert ranges == [2]
    (simple,) = [f for f in one.flows if f.a == "10.0.0.7"]
    assert (simple.first_seen, simple.last_seen) == (20.0, 20.0)


def test_a_failed_range_comes_back_as_the_same_error() -> None:
    """A worker's CaptureError crosses the process boundary in parts and is raised again with
    the same text and offset, recognised by its type (not by the shape of a tuple)."""
    error = CaptureError("f.pcapng", "corrupt block length 7 at offset 96", 96)
    failed = pickle.loads(pickle.dumps(parallel.Failed.of(error)))  # noqa: S301 - our own bytes
    with pytest.raises(CaptureError) as raised:
        parallel._raise_failed(failed)
    assert str(raised.value) == "f.pcapng: corrupt block length 7 at offset 96"
    assert raised.value.offset == 96
    assert str(CaptureError("f.pcap", "cannot read", 5)) == "f.pcap: cannot read at offset 5"


CLIENT, SERVER = "10.0.0.1", "192.0.2.50"


def _opened_before_the_split(later: list[tuple[float, int]]) -> list[tuple[float, bytes]]:
    """A client's SYN and the server's SYN/ACK early, then filler past the split, then the
    client's ``later`` packets (time, TCP flags) in the second range."""
    syn = ether(ipv4(CLIENT, SERVER, 6, tcp(40000, 443, 0x02)))
    synack = ether(ipv4(SERVER, CLIENT, 6, tcp(443, 40000, 0x12)))
    rest = [ether(ipv4(CLIENT, SERVER, 6, tcp(40000, 443, flags, b"d" * 8))) for _t, flags in later]
    return [
        (1.0, syn),
        (1.02, synack),
        *[(2.0 + i, FILLER) for i in range(60)],
        *[(t, frame) for (t, _flags), frame in zip(later, rest, strict=True)],
        *[(100.0 + i, FILLER) for i in range(20)],
    ]


@pytest.mark.parametrize(
    "later",
    [
        [(1.05, 0x10), (1.03, 0x18)],  # the ACK, then a packet stamped before it
        [(1.05, 0x10), (1.06, 0x02)],  # the ACK, then a SYN again in the same range
        [(1.05, 0x02), (1.07, 0x10)],  # a second SYN first: no ACK to time
    ],
)
def test_the_ack_of_a_syn_before_the_split(
    tmp_path: Path, ranges: list[int], later: list[tuple[float, int]]
) -> None:
    """The server-side round trip (SYN/ACK to the client's ACK) needs the direction's second
    packet in file order, which the second range saw first: not its earliest timestamp, and
    whatever SYN comes after it (found by fuzzing: the timestamps of a capture can go back)."""
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_file(_opened_before_the_split(later)))
    one = read_capture(path)
    two = read_capture(path, workers=2)
    assert ranges == [2]
    assert two == one
    opened = next(f for f in one.flows if f.a_port == 40000)
    second_is_syn = later[0][1] == 0x02
    assert (opened.ack_delay is None) == second_is_syn
    if not second_is_syn:
        assert opened.ack_delay == pytest.approx(1.05 - 1.02)
