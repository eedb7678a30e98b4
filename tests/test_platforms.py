"""The platform stage: a capture's table attributes each endpoint as one endpoint at a time does."""

from __future__ import annotations

import ipaddress
import os
import pickle
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor import platform_ranges
from auditor.attribution import PLATFORM_ASNS
from auditor.capture import read_capture
from auditor.capture.columns import FlowColumns, address_key
from auditor.capture.packed import Chunks
from auditor.endpoints import (
    ServerTable,
    endpoint_addresses,
    server_endpoints,
    server_table,
)
from auditor.merging import merge_endpoints
from auditor.model import (
    AttributionBasis,
    Flow,
    NameSighting,
    NameSource,
    PayloadKind,
    ServerEndpoint,
)
from auditor.platform_ranges import bundled_ranges
from auditor.platforms import attributed, attributed_endpoints
from tests.capture.test_columns import DEMO

CLIENT4, CLIENT6 = "192.168.1.23", "2001:db8::23"
# Ports that decide (hints, documented media ports, DNS) and ports that do not.
PORTS = (443, 3478, 3479, 8801, 8805, 9000, 5004, 19302, 53, 80, 5060, 40000)
ASNS = (None, 64500, *PLATFORM_ASNS)
KINDS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 3, 5 | 256, 1023)


def _in_ranges(rng: random.Random, count: int) -> list[str]:
    """Addresses in the bundled ranges (first, last and inside), beside and between them."""
    lines = list(bundled_ranges().lines)
    vendors = [line for line in lines if line.endswith(",vendor")]  # far fewer than clouds'
    found: list[str] = []
    for line in rng.sample(vendors, count // 2) + rng.sample(lines, count - count // 2):
        network = ipaddress.ip_network(line.split(",")[0])
        last = int(network.broadcast_address)
        for value in (int(network.network_address), last, last + 1, rng.randint(
                int(network.network_address), last)):  # fmt: skip
            bits = 32 if network.version == 4 else 128
            found.append(str(ipaddress.ip_address(value % (1 << bits)) if bits == 32
                             else ipaddress.IPv6Address(value % (1 << bits))))  # fmt: skip
    return found


def _flows(rng: random.Random, servers: list[str]) -> list[Flow]:
    flows = []
    for index, server in enumerate(servers):
        client = CLIENT6 if ":" in server else CLIENT4
        for extra in range(rng.choice((1, 1, 1, 2, 3))):
            proto = rng.choice((6, 17, 17))
            flows.append(Flow(
                proto, client, 50000 + extra, server, rng.choice(PORTS), 1 + extra, 2,
                100 * (1 + index % 7), 80, 1.0 + index, 2.0 + index, 1 + 3 * index + extra,
                payloads=PayloadKind(rng.choice(KINDS)),
            ))  # fmt: skip
    return flows


def _packed(flows: list[Flow]) -> FlowColumns:
    """The flows as a capture's rows hold them: raw addresses, packed."""
    chunks = Chunks()
    for flow in flows:
        a, b = address_key(flow.a), address_key(flow.b)
        assert a is not None
        assert b is not None
        width = len(a)
        key = struct.pack(f">{width}s{width}sHH", a, b, flow.a_port, flow.b_port)
        there = [flow.packets_ab, flow.bytes_ab, flow.first_seen, flow.last_seen,
                 flow.first_frame, int(flow.syn_ab)]  # fmt: skip
        back = [flow.packets_ba, flow.bytes_ba, flow.first_seen, flow.last_seen,
                flow.first_frame + 1, int(flow.syn_ba)]  # fmt: skip
        chunks.writer(flow.protocol, width).add_rows(
            [key], [there], [back], [int(flow.payloads)], None
        )
    return chunks.done()


def _names(rng: random.Random, servers: list[str]) -> list[NameSighting]:
    named = rng.sample(servers, len(servers) // 5)
    names = ("zoom.us", "meet.google.com", "stun.l.google.com", "example.org", "EXAMPLE.COM.")
    return [NameSighting(ip, rng.choice(names), rng.choice(list(NameSource))) for ip in named]


def _one_at_a_time(table: ServerTable, asns: list[int | None]) -> list[ServerEndpoint]:
    return [attributed(endpoint, asn) for endpoint, asn in zip(tuple(table), asns, strict=True)]


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_a_table_attributes_as_one_endpoint_at_a_time(seed: int, packed: bool) -> None:
    rng = random.Random(seed)  # noqa: S311 - test data
    servers = _in_ranges(rng, 40) + [f"203.0.113.{n}" for n in range(20)]
    flows = _flows(rng, servers)
    rows = _packed(flows) if packed else flows
    table = server_table(rows, _names(rng, servers), capture="c", own_hosts=None)
    asns = [rng.choice(ASNS) for _ in table]
    want = _one_at_a_time(table, asns)
    got = attributed_endpoints(table, asns)
    assert got == want
    # The cases that decide are there: a platform on each basis, and none; many roles.
    assert {e.platform_basis for e in want} == {None, *AttributionBasis}
    assert len({e.roles for e in want}) >= 30


def test_endpoints_alike_in_every_way_read_are_attributed_alike_but_keep_their_own_fields() -> None:
    # Many servers share (range, ASN platform, ports, payloads): each keeps its address, counts.
    servers = [f"198.51.100.{n}" for n in range(1, 60)]
    flows = [
        Flow(17, CLIENT4, 50000, s, 8801, 1, 1, 100 + n, 50, 1.0, 2.0, n + 1,
             payloads=PayloadKind.RTP)
        for n, s in enumerate(servers)
    ]  # fmt: skip
    table = server_table(_packed(flows), own_hosts=None)
    asns: list[int | None] = [30103 if n % 2 else None for n in range(len(table))]
    got = attributed_endpoints(table, asns)
    assert got == _one_at_a_time(table, asns)
    assert {e.platform for e in got} == {"Zoom", "Zoom? (port hint)"}
    assert [e.ip for e in got] == endpoint_addresses(table) == [e.ip for e in table]


def test_a_real_capture_table_attributes_as_one_endpoint_at_a_time() -> None:
    result = read_capture(DEMO)
    table = server_table(result.flows, result.names, capture="demo")
    rng = random.Random(7)  # noqa: S311 - test data
    asns = [rng.choice(ASNS) for _ in table]
    assert attributed_endpoints(table, asns) == _one_at_a_time(table, asns)


def test_a_table_is_the_tuple_of_its_endpoints() -> None:
    result = read_capture(DEMO)
    table = server_table(result.flows, result.names, capture="demo")
    endpoints = server_endpoints(result.flows, result.names, capture="demo")
    assert isinstance(table, ServerTable)
    assert table == endpoints
    assert len(table) == len(endpoints) > 3
    assert table[0] == endpoints[0]
    assert table[-1] == endpoints[-1]
    assert pickle.loads(pickle.dumps(table)) == endpoints  # noqa: S301 - our own bytes
    assert endpoint_addresses(table) == [e.ip for e in endpoints]
    # Alone, a table is merged as it is; beside another capture's, as its endpoints.
    assert merge_endpoints([table, ()]) is table
    assert merge_endpoints([table, table]) == merge_endpoints([endpoints, endpoints])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, (1 << 32) - 1), st.integers(0, (1 << 128) - 1))
def test_a_range_is_found_alike_by_text_and_by_raw_address(v4: int, v6: int) -> None:
    ranges = bundled_ranges()
    for address in (ipaddress.IPv4Address(v4), ipaddress.IPv6Address(v6)):
        text = str(address)
        row = ranges.row_of(address.packed)
        assert row == ranges.row_of(text)
        found = ranges.lookup(text)
        assert (row is None) == (found is None)
        if found is not None:
            assert address in found.network


def test_rows_of_many_addresses_are_row_of_each() -> None:
    """rows_of's maps over raw IPv4 addresses (joined, read as words, bisected) against
    row_of one by one, at each range's first, last and next address and the ends of IPv4;
    and with any text or IPv6 among them, each row_of as it is."""
    ranges = bundled_ranges()
    ends = ["0.0.0.0", "255.255.255.255"]  # noqa: S104 - addresses to look up
    texts = [*_in_ranges(random.Random(5), 400), *ends]  # noqa: S311 - test data
    raws = [address_key(text) for text in texts]
    assert all(raw is not None for raw in raws)
    v4 = [raw for raw in raws if raw is not None and len(raw) == 4]
    assert len(v4) > 200
    assert ranges.rows_of(v4) == [ranges.row_of(raw) for raw in v4]
    assert any(row is not None for row in ranges.rows_of(v4))
    v6 = [raw for raw in raws if raw is not None and len(raw) == 16]
    assert ranges.rows_of([*v4[:50], *v6[:50]]) == [ranges.row_of(a) for a in v4[:50] + v6[:50]]
    mixed: list[str | bytes] = [*v4[:50], *texts[:50]]
    assert ranges.rows_of(mixed) == [ranges.row_of(address) for address in mixed]
    four_letters: list[str | bytes] = [*v4[:5], "1::1"]  # text 4 long: no raw address
    assert ranges.rows_of(four_letters) == [ranges.row_of(a) for a in four_letters]
    assert ranges.rows_of([]) == []


def test_each_range_is_found_by_its_raw_addresses() -> None:
    rng = random.Random(3)  # noqa: S311 - test data
    ranges = bundled_ranges()
    for text in _in_ranges(rng, 300):
        raw = address_key(text)
        assert raw is not None
        assert ranges.row_of(raw) == ranges.row_of(text)


_segments_compiled = (
    None
    if platform_ranges.segment_items is platform_ranges.segment_items_in_python
    else platform_ranges.segment_items
)


def test_segment_items_is_built_where_required() -> None:
    """.ci/run exports AUDITOR_REQUIRE_COMPILED=1: a build that failed silently fails here."""
    if os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1":
        pytest.skip("AUDITOR_REQUIRE_COMPILED is not set")
    assert _segments_compiled is not None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, (1 << 32) - 1), max_size=40),
    st.lists(st.integers(0, (1 << 32) - 1), max_size=40),
    st.booleans(),
)
def test_compiled_segment_items_are_the_oracles(
    starts: list[int], values: list[int], as_tuple: bool
) -> None:
    """items[bisect_right(starts, value)] at C speed, against the map of bisect: at each
    start, one below and one past it (equal starts among them), and at the ends of IPv4."""
    if _segments_compiled is None:
        pytest.skip("this install has no compiled segment_items")
    starts.sort()
    near = [at + step for at in starts for step in (-1, 0, 1) if 0 <= at + step < 1 << 32]
    values = [*values, *near, 0, (1 << 32) - 1]
    items: list[object] = [object() for _ in range(len(starts) + 1)]
    given_starts = tuple(starts) if as_tuple else starts
    found = _segments_compiled(given_starts, items, values)
    expected = platform_ranges.segment_items_in_python(given_starts, items, values)
    assert len(found) == len(expected)
    assert all(a is b for a, b in zip(found, expected, strict=True))


def test_compiled_segment_items_refuse_what_they_cannot_bisect() -> None:
    if _segments_compiled is None:
        pytest.skip("this install has no compiled segment_items")
    for starts, items, values, error in (
        ([1, 2], [0, 1, 2], [1 << 32], ValueError),  # past 32 bits
        ([1, 2], [0, 1, 2], [-1], ValueError),
        ([2, 1], [0, 1, 2], [1], ValueError),  # not sorted
        ([1, 2], [0, 1], [1], ValueError),  # items not one longer
        ([1, 2], [0, 1, 2], [1.0], TypeError),
        ([1, True], [0, 1, 2], [1], TypeError),  # a bool is no int here
        ({1, 2}, [0, 1, 2], [1], TypeError),
    ):
        with pytest.raises(error):
            _segments_compiled(starts, items, values)  # type: ignore[arg-type] # refused


def test_rows_of_by_the_python_bisection_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """rows_of of many raw IPv4 addresses, with segment_items compiled and by its oracle."""
    rng = random.Random(11)  # noqa: S311 - test data
    ranges = bundled_ranges()
    texts = [*_in_ranges(rng, 300), *(str(ipaddress.IPv4Address(rng.getrandbits(32)))
                                      for _ in range(300))]  # fmt: skip
    raws = [raw for raw in map(address_key, texts) if raw is not None and len(raw) == 4]
    found = ranges.rows_of(raws)
    monkeypatch.setattr(platform_ranges, "segment_items", platform_ranges.segment_items_in_python)
    assert ranges.rows_of(raws) == found == [ranges.row_of(raw) for raw in raws]
    assert any(row is not None for row in found)
    assert None in found
