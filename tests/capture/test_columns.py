"""A capture's packed flows (capture/columns.py) against the same flows as Flow objects: the
host, endpoint and round-trip stages read the packed rows directly, and must answer exactly as
they do for Flows (other sources' input), whatever order the flows come in."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.capture import read_capture
from auditor.capture.columns import (
    NO_DELAY,
    FlowColumns,
    FlowRows,
    Row,
    Texts,
    address_key,
    address_text,
)
from auditor.capture.packed import Chunks
from auditor.endpoints import capture_hosts, server_endpoints
from auditor.geo.roundtrips import round_trips

SHARED = Path(os.environ.get("AUDITOR_SHARED_DATA", "../shared/data"))
DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-meeting.pcap"
MEETINGS = sorted(
    p.name for p in (SHARED / "pcaps" / "meetings").glob("*.pcap*") if p.is_file()
) if (SHARED / "pcaps" / "meetings").is_dir() else []  # fmt: skip


def _same_stages(path: Path) -> None:
    result = read_capture(path)
    packed = result.flows
    assert isinstance(packed, FlowColumns)
    flows = tuple(packed)
    assert len(flows) == len(packed) > 0
    assert [f.first_frame for f in flows] == sorted(f.first_frame for f in flows)
    hosts = capture_hosts(packed)
    assert hosts == capture_hosts(flows) == capture_hosts(flows[::-1])
    start = result.summary.first_seen
    want = server_endpoints(flows, result.names, capture="c", own_hosts=hosts)
    assert want  # the comparison below must have something to compare
    assert server_endpoints(packed, result.names, capture="c", own_hosts=hosts) == want
    # Order does not matter: a packed capture's rows come in table order, not frame order.
    assert server_endpoints(flows[::-1], result.names, capture="c", own_hosts=hosts) == want
    trips = round_trips("c", flows, hosts, start)
    assert round_trips("c", packed, hosts, start) == trips
    assert round_trips("c", flows[::-1], hosts, start) == trips


def _timed(row: Row) -> bool:
    return {row[13], row[15], row[17]} != {NO_DELAY}


def _timed_rows_are_the_rows_with_a_delay(columns: FlowColumns) -> None:
    for chunk in columns.chunks:
        timed = list(chunk.timed_rows())
        assert [row for row in timed if _timed(row)] == [row for row in chunk.rows() if _timed(row)]


def test_timed_rows_are_the_rows_with_a_delay() -> None:
    packed = read_capture(DEMO).flows
    assert isinstance(packed, FlowColumns)
    _timed_rows_are_the_rows_with_a_delay(packed)  # mostly timed: read as rows() reads them
    # A few timed rows among many one-way ones: only those unpacked.
    chunks = Chunks()
    writer = chunks.writer(6, 4)
    for index in range(100):
        key = struct.pack(">4s4sHH", b"\x0a\0\0\x01", b"\xc0\0\x02\x01", 40000 + index, 443)
        syn: list[float] = [1, 60, 10.0 + index, 10.0 + index, 2 * index + 1, 1]
        answer: list[float] = [1, 60, 10.02 + index, 10.02 + index, 2 * index + 2, 0]
        writer.add_rows([key], [syn], [answer if index % 10 == 3 else None], [0], None)
    columns = chunks.done()
    timed = [row for _p, _v, rows in columns.timed_groups() for row in rows]
    assert len(timed) == 10
    assert all(map(_timed, timed))
    _timed_rows_are_the_rows_with_a_delay(columns)


def test_demo_meeting_rows_answer_as_flows() -> None:
    _same_stages(DEMO)


@pytest.mark.parametrize("name", MEETINGS)
def test_real_meeting_rows_answer_as_flows(shared_data: Path, name: str) -> None:
    _same_stages(shared_data / "pcaps" / "meetings" / name)


def test_packed_flows_compare_index_and_pickle_as_flows() -> None:
    packed = read_capture(DEMO).flows
    flows = tuple(packed)
    assert packed == flows
    assert packed[0] == flows[0]
    assert packed[-1] == flows[-1]
    assert pickle.loads(pickle.dumps(packed)) == flows  # noqa: S301 - our own bytes


@pytest.mark.parametrize(
    "text", ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "::", "fe80::1:2:3:4"]
)
def test_address_text_is_ipaddress_text(text: str) -> None:
    import ipaddress

    raw = address_key(text)
    assert raw is not None
    assert address_text(raw) == str(ipaddress.ip_address(text))
    assert address_key("not an address") is None


@given(st.lists(st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=16, max_size=16)),
                max_size=40), st.integers(0, 40))  # fmt: skip
def test_texts_at_once_are_each_address_text(raws: list[bytes], known: int) -> None:
    import ipaddress

    texts = Texts()
    for raw in raws[:known]:  # some made one at a time before
        texts.text(raw)
    mapped = b"\0" * 10 + b"\xff\xff" + b"\xc0\0\2\1"  # ipaddress writes these, not inet_ntop
    given = [*raws, mapped, *raws[:3]]
    assert texts.texts(given) == [str(ipaddress.ip_address(raw)) for raw in given]
    assert texts.texts(given) == [texts.text(raw) for raw in given]
    assert FlowRows(()).texts(["192.0.2.1", "2001:db8::1"]) == ["192.0.2.1", "2001:db8::1"]
