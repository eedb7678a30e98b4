"""Pairing directions into packed rows (packed.pair_directions): a batch none of whose
directions has its other one is written in C-speed steps, every other batch one direction at a
time. Both must write exactly the rows, in exactly the order, that taking every direction one
at a time (latest first, as dict.popitem gives them) writes."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import random
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.capture import fastpath, flowtable, packed, read_capture
from auditor.capture.columns import NO_DELAY, FlowColumns, Row, packed_layout
from auditor.capture.packed import (
    Chunks,
    Packed,
    _ack_delay,
    pair_directions,
    reversed_keys,
)
from auditor.capture.records import (
    BYTES,
    FIRST_FRAME,
    FIRST_TS,
    LAST_TS,
    PACKETS,
    SYN,
    Record,
    reverse_key,
)
from auditor.capture.spill import width_of

SHARED = Path(os.environ.get("AUDITOR_SHARED_DATA", "../shared/data"))
MEETINGS = sorted(
    p.name for p in (SHARED / "pcaps" / "meetings").glob("*.pcap*") if p.is_file()
) if (SHARED / "pcaps" / "meetings").is_dir() else []  # fmt: skip
DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-meeting.pcap"


def _popitem_pairing(
    proto: int,
    table: dict[bytes, Record],
    chunks: Chunks,
    kinds: dict[tuple[int, bytes], int],
    stun_trips: dict[tuple[int, bytes], list[float]],
) -> None:
    """The pairing as it was written before batches (ae489d1's FlowTable._pair), the oracle."""
    writers: dict[int, Packed] = {}
    while table:
        key, rec = table.popitem()
        rkey = reverse_key(key)
        back = table.pop(rkey, None) if rkey != key else None
        if back is not None and back[FIRST_FRAME] < rec[FIRST_FRAME]:
            key, rec, back = rkey, back, rec
            rkey = reverse_key(key)
        writer = writers.get(len(key))
        if writer is None or writer.full():
            writer = writers[len(key)] = chunks.writer(proto, width_of(key))
        _add_row(
            writer, key, rec, back,
            kinds.get((proto, key), 0) | kinds.get((proto, rkey), 0) if kinds else 0,
            stun_trips.get((proto, rkey)) if stun_trips else None,
        )  # fmt: skip


def _add_row(  # noqa: PLR0917 - as it was written
    writer: Packed,
    key: bytes,
    ab: Record,
    ba: Record | None,
    kinds: int = 0,
    stun: list[float] | None = None,
) -> None:
    """One row as Packed.add wrote it (650f092), the oracle of Packed.add_rows."""
    at = writer.offset
    writer.offset = at + writer.layout.size
    writer.count += 1
    writer.room -= 1
    stun_delay, stun_samples = (NO_DELAY, 0) if stun is None else (stun[0], int(stun[1]))
    writer.packets += ab[PACKETS]
    writer.bytes += ab[BYTES]
    if ba is None:  # one-way: no answer, no ACK of an answer
        writer.layout.pack_into(
            writer.data, at, key, ab[PACKETS], 0, ab[BYTES], 0, ab[FIRST_TS], ab[LAST_TS],
            ab[FIRST_FRAME], ab[SYN], 0, NO_DELAY, kinds, stun_delay, stun_samples, NO_DELAY,
        )  # fmt: skip
        return
    writer.packets += ba[PACKETS]
    writer.bytes += ba[BYTES]
    first, last = min(ab[FIRST_TS], ba[FIRST_TS]), max(ab[LAST_TS], ba[LAST_TS])
    answers = _answers_first(writer.proto, key, ab, ba)
    delay = ba[FIRST_TS] - ab[FIRST_TS] if answers else NO_DELAY
    writer.layout.pack_into(
        writer.data, at, key, ab[PACKETS], ba[PACKETS], ab[BYTES], ba[BYTES], first, last,
        ab[FIRST_FRAME], ab[SYN], ba[SYN], delay, kinds, stun_delay, stun_samples,
        _ack_delay(ab, ba),
    )  # fmt: skip


def _answers_first(proto: int, key: bytes, ab: Record, ba: Record) -> bool:
    """packed._answers_first as it was (650f092)."""
    if ba[FIRST_TS] < ab[FIRST_TS]:
        return False
    if proto == 6:
        return bool(ab[SYN]) and not ba[SYN]
    return proto == 17 and len(key) in (12, 36) and key[-2:] in (b"\x00\x35", b"\x01\xbb")


def _rows(columns: FlowColumns) -> Rows:
    return [
        (chunk.proto, chunk.width, chunk.totals, list(chunk.rows())) for chunk in columns.chunks
    ]


def _paired(
    tables: dict[int, dict[bytes, Record]],
    kinds: dict[tuple[int, bytes], int],
    stun: dict[tuple[int, bytes], list[float]],
) -> Rows:
    chunks = Chunks()
    for proto, table in tables.items():
        pair_directions(proto, table, chunks, kinds, stun)
        assert not table  # emptied as the rows are written
    return _rows(chunks.done())


Made = tuple[
    dict[int, dict[bytes, Record]], dict[tuple[int, bytes], int],
    dict[tuple[int, bytes], list[float]],
]  # fmt: skip


Rows = list[tuple[int, int, tuple[int, int], list[Row]]]  # per chunk, with its totals


def _both_ways(monkeypatch: pytest.MonkeyPatch, make: Made) -> Rows:
    tables, kinds, stun = make
    copy = {proto: {key: [*rec] for key, rec in table.items()} for proto, table in tables.items()}
    got = _paired(tables, kinds, stun)
    with monkeypatch.context() as patch:
        patch.setattr(sys.modules[__name__], "pair_directions", _popitem_pairing)
        want = _paired(copy, kinds, stun)
    assert got == want
    return got


def _key(rng: random.Random, length: int) -> bytes:
    return rng.randbytes(length)


def _table(seed: int, count: int, answered: float, lengths: tuple[int, ...] = (12,)) -> Made:
    """A table of ``count`` directions, a share of them answered (their other direction put
    anywhere later in the table), with payload kinds on some."""
    rng = random.Random(seed)  # noqa: S311 - test data, repeatable
    table: dict[bytes, Record] = {}
    kinds: dict[tuple[int, bytes], int] = {}
    frame = 0
    for _ in range(count):
        key = _key(rng, rng.choice(lengths))
        frame += 1
        table[key] = [rng.randint(1, 9), rng.randint(40, 1500), 1e9 + frame, 1e9 + frame + 1,
                      frame, rng.randint(0, 1)]  # fmt: skip
        if rng.random() < 0.1:
            kinds[6, key] = rng.randint(1, 15)
    for key in list(table):
        if rng.random() < answered:
            frame += 1
            table[reverse_key(key)] = [1, 60, 1e9 + frame, 1e9 + frame, frame, 0]
    items = list(table.items())
    rng.shuffle(items)  # the answers among the others, anywhere
    return {6: dict(items)}, kinds, {}


def test_one_way_directions_are_written_as_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _both_ways(monkeypatch, _table(1, 3 * packed.PAIR_BATCH + 17, answered=0.0))
    assert sum(len(chunk) for _p, _w, _t, chunk in rows) == 3 * packed.PAIR_BATCH + 17


def test_a_few_answered_directions_among_many(monkeypatch: pytest.MonkeyPatch) -> None:
    # Some batches have a pair, some none; the pairs straddle batches.
    rows = _both_ways(monkeypatch, _table(2, 5 * packed.PAIR_BATCH, answered=0.0005))
    assert any(row[5] for _p, _w, _t, chunk in rows for row in chunk)  # packets_ba: a pair


def test_every_direction_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    _both_ways(monkeypatch, _table(3, 2 * packed.PAIR_BATCH, answered=1.0))


def test_mixed_key_lengths_and_addresses_without_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    _both_ways(monkeypatch, _table(4, 2 * packed.PAIR_BATCH, answered=0.001, lengths=(12, 36)))
    _both_ways(monkeypatch, _table(5, 2 * packed.PAIR_BATCH, answered=0.0, lengths=(8,)))
    _both_ways(monkeypatch, _table(6, packed.PAIR_BATCH + 3, answered=0.0, lengths=(32,)))


def test_a_chunk_fills_in_the_middle_of_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed, "PACKED_CHUNK", 1000)
    monkeypatch.setattr(packed.Packed.__init__, "__defaults__", (1000,))
    rows = _both_ways(monkeypatch, _table(7, 3 * packed.PAIR_BATCH, answered=0.0))
    assert [len(chunk) for _p, _w, _t, chunk in rows][:3] == [1000, 1000, 1000]


def test_a_direction_its_own_reverse_and_stun_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    tables, kinds, stun = _table(8, 2 * packed.PAIR_BATCH, answered=0.0)
    own = struct.pack(">4s4sHH", b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x01", 5000, 5000)
    tables[6][own] = [3, 300, 5.0, 6.0, 99_999, 0]
    _both_ways(monkeypatch, (tables, kinds, stun))
    tables, kinds, _ = _table(9, 2 * packed.PAIR_BATCH, answered=0.0)
    # A STUN answer whose direction went to the spill: the flow's row still carries it.
    last = next(reversed(tables[6]))
    stun = {(6, reverse_key(last)): [0.025, 3]}
    rows = _both_ways(monkeypatch, (tables, kinds, stun))
    assert [row[15:17] for _p, _w, _t, chunk in rows for row in chunk if row[16]] == [(0.025, 3)]


def _keys_of(length: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=length, max_size=length)


@given(st.lists(st.sampled_from([8, 12, 32, 36]).flatmap(_keys_of), min_size=1, max_size=50))
def test_reversed_keys_is_reverse_key(keys: list[bytes]) -> None:
    same_length = [key for key in keys if len(key) == len(keys[0])]
    assert reversed_keys(same_length) == [reverse_key(key) for key in same_length]
    if len(same_length) < len(keys):
        assert reversed_keys(keys) is None  # mixed lengths: one at a time instead


def _read_both_ways(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    got = read_capture(path)
    with monkeypatch.context() as patch:
        patch.setattr(flowtable, "pair_directions", _popitem_pairing)
        want = read_capture(path)
    assert isinstance(got.flows, FlowColumns)
    assert isinstance(want.flows, FlowColumns)
    assert _rows(got.flows) == _rows(want.flows)
    assert got.summary == want.summary


def test_demo_pairs_as_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    _read_both_ways(monkeypatch, DEMO)


@pytest.mark.parametrize("name", MEETINGS)
def test_real_meetings_pair_as_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path, name: str
) -> None:
    _read_both_ways(monkeypatch, shared_data / "pcaps" / "meetings" / name)


ADDRESSES = [b"\x0a\x00\x00\x01", b"\xc6\x33\x64\x07", b"\xc6\x33\x64\x08"]
ADDRESSES6 = [a * 4 for a in ADDRESSES]


@st.composite
def _direction_key(draw: st.DrawFn) -> bytes:
    """A key among few addresses and ports, so that many have their other direction (and
    some are their own), of any length a table holds: 12 or 36 with ports, 8 or 32 without."""
    pool = draw(st.sampled_from([ADDRESSES, ADDRESSES6]))
    a, b = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
    if draw(st.integers(0, 5)) == 0:
        return a + b
    ports = draw(st.sampled_from([53, 443, 5000])), draw(st.sampled_from([53, 443, 5000]))
    return a + b + struct.pack(">HH", *ports)


@st.composite
def _record(draw: st.DrawFn) -> Record:
    # Times and frames from few values: the two directions of a flow often tie (and -0.0 and
    # NaN pin down which of two equal or unordered times min and max keep).
    first = draw(st.sampled_from([1.0, 2.0, 2.5, 0.0, -0.0, math.nan]))
    rec: Record = [draw(st.integers(1, 9)), draw(st.integers(40, 1500)), first,
                   first + draw(st.sampled_from([0.0, 1.0])), draw(st.integers(1, 3)),
                   draw(st.integers(0, 1))]  # fmt: skip
    if draw(st.integers(0, 3)) == 0:
        rec.append(draw(st.sampled_from([1.5, 2.0, 2.75, 9.0])))  # an ACK's time
    return rec


@st.composite
def _any_table(draw: st.DrawFn) -> dict[bytes, Record]:
    """Directions, many with their other one, in any order."""
    items: dict[bytes, Record] = {}
    for key in draw(st.lists(_direction_key(), max_size=30)):
        items[key] = draw(_record())
        if draw(st.booleans()):
            items[reverse_key(key)] = draw(_record())
    order = draw(st.permutations(list(items)))
    return {key: items[key] for key in order}


LOOPS = ["compiled", "python"]


def _loop_of(which: str) -> contextlib.AbstractContextManager[None]:
    """The pairing as the compiled loop runs it (_loop.pair_rows), or the pure-Python one."""
    if which == "python":
        return fastpath.python_loop()
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    return contextlib.nullcontext()


@pytest.mark.parametrize("loop", LOOPS)
@settings(max_examples=300, deadline=None)
@given(
    _any_table(),
    st.sets(_direction_key(), max_size=6),
    st.sets(_direction_key(), max_size=4),
    st.integers(1, 9),
    st.integers(1, 12),
    st.sampled_from([6, 17]),
)
def test_any_table_pairs_as_one_at_a_time(  # noqa: PLR0917 - hypothesis's draws
    loop: str,
    table: dict[bytes, Record],
    kinded: set[bytes],
    answered: set[bytes],
    batch: int,
    chunk: int,
    proto: int,
) -> None:
    """Pairs within a batch and across batches, taken first by either direction, chunks that
    fill part-way through a batch, keys of both widths and with or without ports, records
    with and without an ACK's time, payload kinds and STUN answers."""
    kinds = {(proto, key): 1 << n for n, key in enumerate(sorted(kinded))}
    stun = {(proto, key): [0.01 * (n + 1), n + 1] for n, key in enumerate(sorted(answered))}
    copy = {key: [*rec] for key, rec in table.items()}
    with pytest.MonkeyPatch.context() as patch, _loop_of(loop):
        patch.setattr(packed, "PAIR_BATCH", batch)
        patch.setattr(packed.Packed.__init__, "__defaults__", (chunk,))
        got = _paired({proto: table}, kinds, stun)
        patch.setattr(sys.modules[__name__], "pair_directions", _popitem_pairing)
        want = _paired({proto: copy}, kinds, stun)
    assert repr(got) == repr(want)  # NaN is no NaN's equal: compared as text


@st.composite
def _batch(draw: st.DrawFn) -> tuple[list[bytes], list[bytes], list[Record | None],
                                     list[Record | None], list[int | None]]:
    """pair_rows's arguments as _two_way makes them: keys, their reverses, the directions
    (None: taken already), the other directions taken from the table, and where each key's
    reverse stands in the batch."""
    keys = draw(st.lists(_direction_key(), max_size=12, unique=True))
    rkeys = [reverse_key(key) for key in keys]
    recs = [draw(st.one_of(st.none(), _record())) for _ in keys]
    later = [draw(st.one_of(st.none(), _record())) for _ in keys]
    at = {key: i for i, key in enumerate(keys)}
    return keys, rkeys, recs, later, [at.get(rkey) for rkey in rkeys]


@settings(max_examples=500, deadline=None)
@given(_batch())
def test_the_compiled_pair_rows_is_the_python_one(
    batch: tuple[list[bytes], list[bytes], list[Record | None], list[Record | None],
                 list[int | None]],
) -> None:
    """The same rows, in the same order, holding the very same objects."""
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    from auditor.capture import _loop

    want = packed.pair_rows(*batch)
    got = _loop.pair_rows(*batch)
    assert [list(map(id, column)) for column in got] == [list(map(id, c)) for c in want]
    assert repr(got) == repr(want)


def test_the_compiled_pair_rows_refuses_what_is_not_a_batch() -> None:
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    from auditor.capture import _loop

    rec: Record = [1, 60, 1.0, 1.0, 1, 0]
    key = b"\x0a\x00\x00\x01" * 2
    with pytest.raises(ValueError, match="one length"):
        _loop.pair_rows([key], [key], [rec], [], [None])
    with pytest.raises(IndexError, match="out of the batch"):
        _loop.pair_rows([key], [key], [rec], [None], [5])
    with pytest.raises(TypeError, match="not a flow record"):
        _loop.pair_rows([key], [key], [rec], [[1, 2]], [None])


def test_the_compiled_pack_rows_is_the_python_one() -> None:
    """Every pair of times among the values where min, max and the answer's delay can differ by
    which side they take (ties, 0.0 against -0.0, NaN), answered or not: the same bytes."""
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    from auditor.capture import _loop

    times = [0.0, -0.0, 1.0, 2.0, math.nan, math.inf]
    recs: list[Record] = []
    others: list[Record] = []
    for first_a, last_a, first_b, last_b in itertools.product(times, repeat=4):
        recs.append([3, 300, first_a, last_a, 7, 1])
        others.append([2, 200, first_b, last_b, 9, 0])
    keys = [bytes([n % 251]) * 12 for n in range(len(recs))]
    layout = packed_layout(4)
    n = len(keys)
    for answering in (True, False):
        want = packed._pack_rows(layout.pack, layout.size, keys, recs, others, [answering] * n,
                                 range(n), [0.5] * n, [2] * n, [0.25] * n, NO_DELAY)  # fmt: skip
        got = _loop.pack_rows(layout.pack, layout.size, keys, recs, others, [answering] * n,
                              range(n), [0.5] * n, [2] * n, [0.25] * n, NO_DELAY)  # fmt: skip
        assert got == want
    with pytest.raises(ValueError, match="shorter than the keys"):
        _loop.pack_rows(layout.pack, layout.size, keys, recs, others, [], [], [], [], [], 0.0)
    with pytest.raises(TypeError, match="not a flow record"):
        _loop.pack_rows(layout.pack, layout.size, keys[:1], [[1]], others[:1], [True], [0],
                        [0.0], [0], [0.0], 0.0)  # fmt: skip



class _Int(int):
    pass


class _Float(float):
    pass


# Values a row's field can hold that _loop.pack_rows does not write itself (not an exact int in
# its field's range, not an exact float): pack is called for that row, and packs or raises.
_ODD: list[tuple[int, object]] = [
    (0, 2**63), (0, -(2**63) - 1), (0, _Int(5)), (0, True), (0, 2.0), (1, 7), (2, 5),
    (2, _Float(1.5)), (3, 9), (4, 2**64), (5, 256), (5, -1), (5, True),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), _ODD, ids=repr)
def test_the_compiled_pack_rows_packs_odd_values_as_pack_does(field: int, value: object) -> None:
    """A row with one odd field, after a plain one (the first row of a call is always packed
    by pack, to check the compiled layout): the same bytes, or the same error. The odd kinds,
    samples and keys too."""
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    from auditor.capture import _loop

    layout = packed_layout(4)
    odd: Record = [3, 300, 1.0, 2.0, 7, 1]
    odd[field] = value  # type: ignore[call-overload]
    plain: Record = [3, 300, 1.0, 2.0, 7, 1]
    back: Record = [2, 200, 1.5, 2.5, 9, 0]
    for rec, other, kinds, samples, key, stun in [
        (odd, back, 0, 2, b"k" * 12, 0.5),
        (plain, odd, 0, 2, b"k" * 12, 0.5),
        (plain, back, 2**32, 2, b"k" * 12, 0.5),
        (plain, back, -1, _Int(2), b"k" * 11, 0.5),
        (plain, back, _Int(3), 2**63, bytearray(12), _Float(0.5)),
        (plain, back, 0, 2, b"k" * 13, 1),
    ]:
        args: tuple[Any, ...] = (
            layout.pack, layout.size, [b"p" * 12, key], [[1, 1, 0.5, 0.5, 1, 0], rec],
            [[1, 1, 0.5, 0.5, 1, 0], other], [True, True], [0, kinds], [0.5, stun],
            [2, samples], [0.25, 0.25], NO_DELAY,
        )  # fmt: skip
        want: object
        try:
            want = packed._pack_rows(*args)
        except Exception as error:  # whichever pack raises, the compiled one must
            want = (type(error), str(error))
        try:
            got: object = _loop.pack_rows(*args)
        except Exception as error:
            got = (type(error), str(error))
        assert got == want
