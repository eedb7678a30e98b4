"""_loop.trip_rows (the round-trip pass over a chunk's packed rows, in C) against
roundtrips._trip_rows, its oracle, on the same rows: the same entries, in the same order, to
the bits of every time."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.capture import fastpath, read_capture
from auditor.capture.columns import NO_DELAY, Address, FlowColumns, row_layout
from auditor.endpoints import capture_hosts
from auditor.geo.roundtrips import KINDS, QUIC_JOIN_GUARD_S, _trip_rows, round_trips

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo-meeting.pcap"
SHARED = Path(os.environ.get("AUDITOR_SHARED_DATA", "../shared/data"))
MEETINGS = sorted(
    p.name for p in (SHARED / "pcaps" / "meetings").glob("*.pcap*") if p.is_file()
) if (SHARED / "pcaps" / "meetings").is_dir() else []  # fmt: skip


@pytest.fixture(autouse=True)
def built() -> None:
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")


def _compiled(*args: Any) -> None:
    from auditor.capture._loop import trip_rows

    trip_rows(*args)


def _exact(found: dict[Any, list[float]]) -> list[tuple[Any, ...]]:
    """Entries in order, each value with its type, a time by its bits."""
    return [
        (key, type(seconds), struct.pack(">d", seconds), type(samples), samples)
        for key, (seconds, samples) in found.items()
    ]


ADDRESSES = [bytes([10, 0, 0, 1]), bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7]), bytes(4)]
DELAYS = st.sampled_from([NO_DELAY, NO_DELAY, 0.0, -0.0, 0.012, 0.012, 0.3, 1e-9,
                          float("nan"), float("inf"), -2.0])  # fmt: skip
ROW = st.tuples(
    st.sampled_from(ADDRESSES), st.sampled_from(ADDRESSES),
    st.sampled_from([0, 53, 443, 3478, 65535]), st.sampled_from([0, 53, 443, 3478, 65535]),
    st.sampled_from([99.0, 100.0, 101.9, 102.0, 102.1, 500.0]),  # first seen, near the guard
    DELAYS, DELAYS, st.sampled_from([0, 1, 3, 2**62]), DELAYS,
)  # fmt: skip


def _packed(rows: list[tuple[Any, ...]], width: int) -> bytes:
    layout = row_layout(width)
    out = b""
    for a, b, a_port, b_port, first, delay, stun, samples, ack in rows:
        pad = bytes(width - len(a))
        out += layout.pack(pad + a, pad + b, a_port, b_port, 1, 2, 3, 4, first, first + 1, 5,
                           1, 0, delay, 6, stun, samples, ack)  # fmt: skip
    return out


@given(
    st.lists(ROW, max_size=30),
    st.sampled_from([6, 17, 1]),
    st.sampled_from([4, 16]),
    st.sets(st.sampled_from(ADDRESSES), max_size=2),
    st.sampled_from([None, 100.0, 0.0]),
    st.booleans(),
)
def test_trip_rows_find_what_the_python_pass_finds(  # noqa: PLR0917 - hypothesis's draws
    rows: list[tuple[Any, ...]], proto: int, width: int, hosts: set[bytes],
    start: float | None, earlier: bool,
) -> None:  # fmt: skip
    data = _packed(rows, width)
    keys: set[Address] = {bytes(width - 4) + host for host in hosts}
    want: dict[Any, list[float]] = {}
    got: dict[Any, list[float]] = {}
    if earlier:  # entries already there (an earlier chunk's): added to, kept the shorter
        for found in (want, got):
            found[(bytes(width - 4) + ADDRESSES[1], KINDS[0])] = [0.05, 2]
            found[(bytes(width - 4) + ADDRESSES[2], KINDS[3])] = [0.001, 1]
    layout = row_layout(width)
    _trip_rows(layout.iter_unpack(data), proto, keys, start, QUIC_JOIN_GUARD_S, KINDS, want)
    _compiled(data + b"\0" * 5, width, len(rows), proto, keys, start, QUIC_JOIN_GUARD_S, KINDS,
              got)  # fmt: skip
    assert _exact(got) == _exact(want)


def _both_ways(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    result = read_capture(path)
    assert isinstance(result.flows, FlowColumns)
    hosts = capture_hosts(result.flows)
    start = result.summary.first_seen
    compiled = round_trips("c", result.flows, hosts, start)
    monkeypatch.setattr(fastpath, "compiled", False)
    pure = round_trips("c", result.flows, hosts, start)
    monkeypatch.setattr(fastpath, "compiled", True)
    assert list(compiled.items()) == list(pure.items())
    assert compiled == round_trips("c", tuple(result.flows), hosts, start)


def test_a_meeting_s_round_trips_are_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    _both_ways(monkeypatch, DEMO)
    assert round_trips("c", read_capture(DEMO).flows, frozenset(), None)  # something to compare


@pytest.mark.parametrize("name", MEETINGS)
def test_real_meetings_round_trips_are_the_same_both_ways(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path, name: str
) -> None:
    _both_ways(monkeypatch, shared_data / "pcaps" / "meetings" / name)


def _timed_row(width: int = 4) -> bytes:
    return _packed([(ADDRESSES[0], ADDRESSES[1], 5000, 443, 100.0, 0.02, NO_DELAY, 0,
                     NO_DELAY)], width)  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        (_timed_row(), 4, 2, 6, set(), None, 2.0, KINDS, {}),  # more rows than the data holds
        (_timed_row(), 4, -1, 6, set(), None, 2.0, KINDS, {}),
        (_timed_row(), -1, 0, 6, set(), None, 2.0, KINDS, {}),
    ],
)
def test_rows_outside_the_data_are_refused(args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError, match="trip_rows"):
        _compiled(*args)


@pytest.mark.parametrize(
    "args",
    [
        (_timed_row(), 4, 1, 6, [], None, 2.0, KINDS, {}),  # hosts not a set
        (_timed_row(), 4, 1, 6, set(), None, 2.0, KINDS, []),  # found not a dict
        (_timed_row(), 4, 1, 6, set(), None, 2.0, KINDS[:4], {}),  # a kind missing
        (_timed_row(), 4, 1, 6, set(), "0", 2.0, KINDS, {}),  # a start that is no number
        (_timed_row(), 4, 1, 6, set(), None, 2.0, KINDS, {(ADDRESSES[1], KINDS[0]): (1.0, 1)}),
        ("rows", 4, 1, 6, set(), None, 2.0, KINDS, {}),
        (_timed_row(), 4, 1, 6, set(), None, 2.0, KINDS),
    ],
)
def test_bad_arguments_are_refused(args: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError):
        _compiled(*args)
