"""Property tests: truncated, mutated and random captures never break the reader's promises.

The promises (fuzz/oracle.py): read_capture returns or raises CaptureError, nothing else, and no
wrapped bug; the fast path, the general path (and two workers) agree; every record is counted
into a flow or as skipped; a damaged read says so in a warning; what was read before the damage
is exactly what a file holding only those records gives.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from fuzz.capgen import (
    LINK_TYPES,
    Capture,
    Packet,
    gzipped,
    pcap,
    pcapng,
    sample_packets,
)
from fuzz.mutate import KINDS, Edit, mutate
from fuzz.oracle import Outcome, check, lost_flows
from tests.robustness.hypo import budget

_counter = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Module-scoped: hypothesis runs many examples per test and rejects function-scoped ones.
    return tmp_path_factory.mktemp("fuzz")


def read(scratch: Path, data: bytes, *, parallel: bool = False) -> Outcome:
    path = scratch / f"c{next(_counter)}.bin"
    path.write_bytes(data)
    try:
        return check(str(path), size=len(data), parallel=parallel)
    finally:
        path.unlink()


@st.composite
def captures(draw: st.DrawFn, *, max_packets: int = 40) -> Capture:
    """A valid pcap or pcapng of Ethernet/VLAN/IPv4/IPv6/TCP/UDP, in any byte order and block."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))  # noqa: S311 - test data, not secrets
    packets = sample_packets(rng, draw(st.integers(1, max_packets)))
    endian = draw(st.sampled_from("<>"))
    if draw(st.booleans()):
        return pcap(packets, endian=endian, nano=draw(st.booleans()))
    return pcapng(
        packets,
        endian=endian,
        block=draw(st.sampled_from(["epb", "opb", "spb", "mixed"])),
        tsresol=draw(st.sampled_from([None, 3, 6, 9, 0x80 | 20])),
    )


def ok(outcome: Outcome) -> Outcome:
    assert outcome.result is not None, outcome.error
    return outcome


# --- truncation ------------------------------------------------------------------------------


@budget(150)
@given(capture=captures(), data=st.data())
def test_truncated_file_gives_exactly_its_whole_records(
    scratch: Path, capture: Capture, data: st.DataObject
) -> None:
    cut = data.draw(
        st.one_of(
            st.integers(0, len(capture.data)),
            st.sampled_from(capture.record_ends).map(lambda end: end - 1),
            st.sampled_from(capture.record_ends),
        ),
        label="cut",
    )
    assert_cut_keeps_whole_records(scratch, capture, cut)


def assert_cut_keeps_whole_records(scratch: Path, capture: Capture, cut: int) -> None:
    damaged = read(scratch, capture.data[:cut])
    prefix = ok(read(scratch, capture.prefix(cut)))
    at_boundary = cut in (*capture.record_ends, *capture.header_blocks, capture.header_end)
    if damaged.result is None:
        # Only a file cut inside its header is not a capture at all (libpcap agrees).
        assert cut < capture.header_end, damaged.error
        assert prefix.result is not None
        assert prefix.result.summary.packets == 0
        return
    got, want = damaged.result, prefix.result
    assert want is not None  # ok() checked it; this tells the type checker
    assert got.flows == want.flows
    assert got.summary.packets == want.summary.packets == capture.whole_records(cut)
    assert got.summary.skipped == want.summary.skipped
    assert (got.summary.first_seen, got.summary.last_seen) == (
        want.summary.first_seen,
        want.summary.last_seen,
    )
    assert got.summary.complete == at_boundary
    if not at_boundary:
        assert any("offset" in warning for warning in got.summary.warnings)


def test_every_cut_of_one_small_capture(scratch: Path) -> None:
    """Exhaustive on one small file of each format: every byte offset, not a sample."""
    rng = random.Random(5)  # noqa: S311 - test data
    packets = sample_packets(rng, 6)
    for capture in (pcap(packets), pcapng(packets, block="mixed")):
        for cut in range(len(capture.data) + 1):
            assert_cut_keeps_whole_records(scratch, capture, cut)


@budget(100)
@given(capture=captures(), data=st.data())
def test_truncated_gzip_keeps_every_record_it_decompressed(
    scratch: Path, capture: Capture, data: st.DataObject
) -> None:
    packed = gzipped(capture.data)
    cut = data.draw(st.integers(0, len(packed)), label="cut")
    outcome = read(scratch, packed[:cut])
    if outcome.result is None:
        return  # too little left to hold even a file header
    got = outcome.result
    assert got.summary.compressed
    k = got.summary.packets
    assert k <= len(capture.record_ends)
    want = ok(read(scratch, capture.prefix(capture.record_ends[k - 1] if k else 0))).result
    assert want is not None
    assert got.flows == want.flows
    assert got.summary.complete == (cut == len(packed))


# --- mutation --------------------------------------------------------------------------------

@st.composite
def mutations(draw: st.DrawFn, size: int, start: int) -> list[Edit]:
    """A few edits at or after ``start``: bit flips, byte overwrites, extreme 32-bit values,
    inserted and deleted runs."""
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(KINDS),
                st.integers(start, max(start, size - 1)),
                st.integers(0, 2**32 - 1),
            ),
            min_size=1,
            max_size=6,
        )
    )


@budget(200)
@given(capture=captures(), data=st.data())
def test_damage_after_the_header_loses_nothing_before_it(
    scratch: Path, capture: Capture, data: st.DataObject
) -> None:
    edits = data.draw(mutations(len(capture.data), capture.header_end), label="edits")
    damaged_data = mutate(capture.data, edits)
    first_damage = min(at for _kind, at, _value in edits)
    outcome = read(scratch, damaged_data)
    # Past the header nothing makes the whole file unreadable: at worst the rest is lost.
    assert outcome.result is not None, outcome.error
    got = outcome.result
    intact = ok(read(scratch, capture.prefix(first_damage))).result
    assert intact is not None
    assert got.summary.packets >= intact.summary.packets
    assert lost_flows(intact, got) == []


@budget(120)
@given(capture=captures(max_packets=15), data=st.data())
def test_damage_anywhere_including_the_header(
    scratch: Path, capture: Capture, data: st.DataObject
) -> None:
    edits = data.draw(mutations(len(capture.data), 0), label="edits")
    read(scratch, mutate(capture.data, edits))


@budget(60)
@given(capture=captures(max_packets=20), data=st.data())
def test_damage_inside_gzip(scratch: Path, capture: Capture, data: st.DataObject) -> None:
    packed = gzipped(capture.data)
    edits = data.draw(mutations(len(packed), 10), label="edits")
    read(scratch, mutate(packed, edits))


@budget(40)
@given(capture=captures(max_packets=25), data=st.data())
def test_two_workers_agree_with_one_on_damaged_files(
    scratch: Path, capture: Capture, data: st.DataObject
) -> None:
    edits = data.draw(mutations(len(capture.data), capture.header_end), label="edits")
    read(scratch, mutate(capture.data, edits), parallel=True)


# --- random link-layer payloads --------------------------------------------------------------


def _frame_like(rng_seed: int, cut: int, flips: list[int]) -> bytes:
    """A real Ethernet frame, cut short and with some bytes changed: deep in the decoder."""
    rng = random.Random(rng_seed)  # noqa: S311 - test data
    frame = bytearray(sample_packets(rng, 1)[0].data)
    for flip in flips:
        frame[flip % len(frame)] ^= 1 << (flip % 8)
    return bytes(frame[: max(1, len(frame) - cut)])


payloads = st.one_of(
    st.binary(max_size=160),
    st.builds(_frame_like, st.integers(0, 2**16), st.integers(0, 60),
              st.lists(st.integers(0, 2**16), max_size=4)),
)
link_types = st.one_of(st.sampled_from(LINK_TYPES), st.integers(0, 0xFFFF))


@budget(200)
@given(
    frames=st.lists(st.tuples(link_types, payloads, st.integers(0, 70000)), min_size=1,
                    max_size=12),
    endian=st.sampled_from("<>"),
)
@example(frames=[(1, b"", 0)], endian="<")
@example(frames=[(258, b"\x08\x00\x00\x00\x02\x01\x00\x00", 0)], endian="<")
@example(frames=[(192, b"\x00\x00\x08\x00\xc0\x00\x00\x00", 0)], endian="<")
def test_random_link_layer_payloads_in_pcapng(
    scratch: Path, frames: list[tuple[int, bytes, int]], endian: str
) -> None:
    packets = [Packet(10**18 + i, link, data, wire) for i, (link, data, wire) in enumerate(frames)]
    outcome = ok(read(scratch, pcapng(packets, endian=endian).data))
    assert outcome.result is not None
    assert outcome.result.summary.packets == len(frames)
    assert outcome.result.summary.complete


@budget(150)
@given(
    link=link_types,
    frames=st.lists(st.tuples(payloads, st.integers(0, 70000)), min_size=1, max_size=12),
    endian=st.sampled_from("<>"),
    nano=st.booleans(),
)
def test_random_link_layer_payloads_in_pcap(
    scratch: Path, link: int, frames: list[tuple[bytes, int]], endian: str, nano: bool
) -> None:
    assume(link & 0xFFFF == link)
    packets = [Packet(10**18 + i, link, data, wire) for i, (data, wire) in enumerate(frames)]
    outcome = ok(read(scratch, pcap(packets, endian=endian, nano=nano).data))
    assert outcome.result is not None
    assert outcome.result.summary.packets == len(frames)
    assert outcome.result.summary.complete


# --- past findings ---------------------------------------------------------------------------

FINDINGS = sorted((Path(__file__).parent / "findings").glob("*.bin"))


@pytest.mark.parametrize("finding", FINDINGS, ids=[p.name for p in FINDINGS])
def test_past_findings_stay_fixed(finding: Path) -> None:
    """Inputs the fuzz run once broke the reader with (python -m fuzz.run --replay FILE)."""
    check(str(finding), parallel=True)
