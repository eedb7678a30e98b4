"""The endpoint tally compiled (_loop.tally_rows) against endpoints._tally_rows, its oracle: the
same counts, holding the same objects, the same is_local calls in the same order, the same
errors; and server_table the same either way on real captures."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.capture import fastpath
from auditor.capture.columns import Row
from auditor.endpoints import MEETING_PORTS, _Tally, _tally_rows, server_table
from auditor.sources import read_source

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "fixtures" / "demo-meeting.pcap"
MEETINGS = ["teams.pcap", "webex.pcap", "zoom.pcap", "discord.pcap"]

# Raw addresses, text ones (flow logs), and one of each that is_local says is local.
ADDRESSES = [b"\xc0\xa8\x01\x17", b"\x08\x08\x08\x08", b"\x0a\x00\x00\x01", b"\x01" * 16,
             "192.168.1.23", "203.0.113.9", "2001:db8::1"]  # fmt: skip
LOCAL = {b"\x0a\x00\x00\x01", "192.168.1.23"}
PORTS = [0, 53, 443, 1023, 1024, 3478, 8801, 40000, 65535]


def _compiled() -> Callable[..., None]:
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    from auditor.capture._loop import tally_rows

    compiled: Callable[..., None] = tally_rows
    return compiled


@st.composite
def _row(draw: st.DrawFn) -> tuple[Any, ...]:
    a, b = draw(st.sampled_from(ADDRESSES)), draw(st.sampled_from(ADDRESSES))
    return (
        a, b, draw(st.sampled_from(PORTS)), draw(st.sampled_from(PORTS)),
        draw(st.integers(0, 2**70)), draw(st.integers(0, 9)), draw(st.integers(0, 9000)),
        draw(st.integers(0, 9000)), draw(st.sampled_from([1.0, 2.5, -0.0, math.inf])),
        draw(st.sampled_from([1.0, 3.0, 7.5])), draw(st.integers(1, 99)),
        draw(st.sampled_from([0, 1, 2])), draw(st.sampled_from([0, 1])), -1.0,
        draw(st.sampled_from([0, 1, 8, 256])), -1.0, 0, -1.0,
    )  # fmt: skip


def _plain(value: object) -> object:
    """A value as comparable data with every type named (a _Tally as its counts)."""
    if isinstance(value, _Tally):
        return "_Tally", _plain(value.counts())
    if isinstance(value, dict):
        return [(_plain(k), _plain(v)) for k, v in value.items()]
    if isinstance(value, set):
        return sorted(repr(_plain(v)) for v in value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return type(value).__name__, repr(value)


def _tallied(tally_rows: Callable[..., None], rows: list[Row], proto: int,
             hosts: set[Any]) -> tuple[object, object, list[object], list[int]]:  # fmt: skip
    """What tally_rows leaves: the tallies, the port keys, the is_local calls, and the ids of
    the objects the one-flow counts hold (the rows' own)."""
    asked: list[object] = []

    def is_local(address: object) -> bool:
        asked.append(address)
        return address in LOCAL

    keys: dict[Any, Any] | None = {} if proto in (6, 17) else None
    tallies: dict[Any, Any] = {}
    tally_rows(rows, proto, {6: "tcp", 17: "udp"}.get(proto, "icmp"), keys, hosts, is_local,
               MEETING_PORTS, tallies, _Tally)  # fmt: skip
    held = [id(item) for counts in tallies.values() if isinstance(counts, tuple)
            for item in (counts[4], counts[5], counts[6], counts[7], counts[9])]  # fmt: skip
    return _plain(tallies), _plain(keys), asked, held


@settings(max_examples=400, deadline=None)
@given(st.lists(_row(), max_size=14), st.sampled_from([6, 17, 1]),
       st.sets(st.sampled_from(ADDRESSES), max_size=2))  # fmt: skip
def test_the_compiled_tally_is_the_python_one(
    rows: list[Row], proto: int, hosts: set[Any]
) -> None:
    """Every rule of _server_side (SYN, ports, host, is_local, lower port, the host turned
    round), servers seen once and more, ports and protocols without ports."""
    compiled = _compiled()
    assert _tallied(compiled, rows, proto, hosts) == _tallied(_tally_rows, rows, proto, hosts)


def _no_tally(_counts: object) -> _Tally:
    raise ZeroDivisionError


def test_the_compiled_tally_raises_what_python_raises() -> None:
    compiled = _compiled()
    row: Row = (b"\x01" * 4, b"\x02" * 4, 40000, 40001, 1, 1, 9, 9, 1.0, 2.0, 1, 0, 0, -1.0, 0,
                -1.0, 0, -1.0)  # fmt: skip

    def failing(_address: object) -> bool:
        raise LookupError("is_local failed")

    for tally_rows in (compiled, _tally_rows):
        with pytest.raises(LookupError, match="is_local failed"):
            tally_rows([row], 17, "udp", {}, set(), failing, MEETING_PORTS, {}, _Tally)
        with pytest.raises(ZeroDivisionError):
            tally_rows([row, row], 17, "udp", {}, set(), bool, MEETING_PORTS, {}, _no_tally)
    with pytest.raises(TypeError, match="not a flow row"):
        compiled([row[:10]], 17, "udp", {}, set(), bool, MEETING_PORTS, {}, _Tally)
    with pytest.raises(TypeError, match="not an int"):
        compiled([(*row[:2], "443", *row[3:])], 17, "udp", {}, set(), bool, MEETING_PORTS, {},
                 _Tally)  # fmt: skip
    with pytest.raises(TypeError, match="takes a name"):
        compiled([row], 17, "udp", [], set(), bool, MEETING_PORTS, {}, _Tally)
    with pytest.raises(TypeError, match="9 arguments"):
        compiled([row], 17)


def _table(path: Path) -> tuple[object, ...]:
    read = read_source(str(path), workers=1)
    return tuple(server_table(read.flows, read.names, capture=str(path)))


@pytest.mark.parametrize("name", MEETINGS)
def test_server_table_is_the_same_either_way(shared_data: Path, name: str) -> None:
    _compiled()
    path = shared_data / "pcaps" / "meetings" / name
    compiled = _table(path)
    with fastpath.python_loop():
        python = _table(path)
    assert compiled == python
    assert len(compiled) > 3


def test_the_demo_table_is_the_same_either_way() -> None:
    _compiled()
    compiled = _table(DEMO)
    with fastpath.python_loop():
        python = _table(DEMO)
    assert compiled == python
    assert len(compiled) > 3
