"""The search tree walked in C (auditor/geo/_tree.c) for many addresses: each walk must end
where the maxminddb reader's does (the same record, the same prefix length), and locating
with it must give what locate() gives each address, on real databases and random addresses."""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
from pathlib import Path

import maxminddb
import pytest

from auditor.geo import bulk, discover_databases, open_locator
from auditor.geo.bulk import _V6_SPOT
from tests.geo.test_locate_all import _at_once, _in_turn

pytestmark = pytest.mark.skipif(
    bulk.walk is None and os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1",
    reason="this install has no compiled tree walk (AUDITOR_REQUIRE_COMPILED=1 fails)",
)


def test_the_tree_walk_is_built_where_required() -> None:
    """.ci/run exports AUDITOR_REQUIRE_COMPILED=1: a build that failed silently fails here."""
    assert bulk.walk is not None


def _rng(seed: int | str) -> random.Random:
    return random.Random(seed)  # noqa: S311 - addresses to test, not secrets


def _spot_text(at: int) -> str:
    if at < _V6_SPOT:
        return str(ipaddress.IPv4Address(at))
    return str(ipaddress.IPv6Address(at - _V6_SPOT))


def _spots(reader: maxminddb.Reader, rng: random.Random, count: int) -> list[int]:
    """Random addresses of both versions, IPv4 in IPv6 (::a.b.c.d), and the first, second and
    last address of each network the database has (when it lists them without failing)."""
    spots = [rng.getrandbits(32) for _ in range(count)]
    spots += [rng.getrandbits(128) | _V6_SPOT for _ in range(count // 4)]
    spots += [rng.getrandbits(32) | _V6_SPOT for _ in range(count // 8)]
    spots += [0, 2**32 - 1, _V6_SPOT, 2**129 - 1]
    if reader.metadata().node_count < 20_000:
        try:
            networks = [network for network, _ in reader]
        except (maxminddb.InvalidDatabaseError, ValueError):
            networks = []
        for network in networks:
            first, last = int(network.network_address), int(network.broadcast_address)
            flag = 0 if network.version == 4 else _V6_SPOT
            spots += [first | flag, last | flag, min(first + 1, last) | flag]
    return spots


def _databases() -> list[str]:
    root = os.environ.get("AUDITOR_SHARED_DATA")
    found = [str(path) for path in sorted(Path(bulk.__file__).parent.parent.glob("data/*.mmdb"))]
    if root:
        mmdb = Path(root) / "mmdb"
        found += [str(path) for path in sorted(mmdb.glob("test-data/*.mmdb"))]
        found += [str(path) for path in sorted(mmdb.glob("bad-data/**/*.mmdb"))]
    return found


@pytest.mark.parametrize("path", _databases(), ids=lambda path: Path(path).name)
def test_each_walk_ends_where_the_reader_finds_the_address(path: str) -> None:
    try:
        reader = maxminddb.open_database(path, maxminddb.MODE_AUTO)
    except (maxminddb.InvalidDatabaseError, OSError, ValueError):
        pytest.skip("the reader refuses the file: the locator refuses it too (test_locator)")
    metadata = reader.metadata()
    size = metadata.node_count * metadata.record_size // 4
    tree = Path(path).read_bytes()[:size]
    bits = 128 if metadata.ip_version == 6 else 32
    spots = _spots(reader, _rng(path), 4000)
    assert bulk.walk is not None
    ends, depths = bulk.walk(tree, metadata.node_count, metadata.record_size, bits, spots)
    records: dict[int, object] = {}
    for at, end, depth in zip(spots, ends, depths, strict=True):
        if end is None:  # IPv6 in an IPv4-only tree
            assert (bits, at >= _V6_SPOT) == (32, True)
            continue
        try:
            record, prefix_len = reader.get_with_prefix_len(_spot_text(at))
        except (maxminddb.InvalidDatabaseError, ValueError) as error:
            record, prefix_len = type(error).__name__, None  # its message names the address
        if prefix_len is not None:
            v4_in_v6 = at < _V6_SPOT and bits == 128
            assert prefix_len == (max(depth - 96, 0) if v4_in_v6 else depth), _spot_text(at)
        # One end, one record: the reader decodes what the walk ended on, nothing else.
        assert records.setdefault(end, record) == record, _spot_text(at)
    # Equal ends are one object, so that bulk.group tells the addresses of one end by identity.
    distinct = {id(end) for end in ends if end is not None}
    assert len(distinct) == len({end for end in ends if end is not None})


def _addresses(rng: random.Random, count: int) -> list[str]:
    ips = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(count)]
    ips += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(count // 8)]
    unicast = [0x2000 << 112 | rng.getrandbits(109) for _ in range(count // 8)]
    ips += [str(ipaddress.IPv6Address(value)) for value in unicast]
    ips += [f"::ffff:{ip}" for ip in ips[: count // 16]]
    return ips


def test_the_bundled_databases_walked_answer_as_in_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Random public addresses (and local ones: they are set aside the same) in the bundled
    databases, each tree walked: every Location as locate() gives it."""
    monkeypatch.setattr(bulk, "_TREE_BYTES_PER_ADDRESS", 1 << 40)
    paths = discover_databases([], {})
    ips = _addresses(_rng(15), 6000)
    walked = _at_once(paths, ips)
    assert walked == _in_turn(paths, ips)
    monkeypatch.setattr(bulk, "walk", None)
    assert _at_once(paths, ips) == walked  # and as asked network by network


@pytest.mark.parametrize("path", _databases(), ids=lambda path: Path(path).name)
def test_every_database_walked_answers_or_fails_as_in_turn(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    if Path(path).stat().st_size > 20_000_000:
        pytest.skip("a bundled database: test_the_bundled_databases_walked_answer_as_one_by_one")
    monkeypatch.setattr(bulk, "_TREE_BYTES_PER_ADDRESS", 1 << 40)
    try:
        reader = maxminddb.open_database(path, maxminddb.MODE_AUTO)
        ips = [_spot_text(at) for at in _spots(reader, _rng(path), 300)]
        reader.close()
    except (maxminddb.InvalidDatabaseError, OSError, ValueError):
        ips = _addresses(_rng(path), 300)
    _rng(7).shuffle(ips)
    assert _at_once([path], ips) == _in_turn([path], ips)


def test_a_walk_the_reader_contradicts_is_dropped_for_the_reader(
    monkeypatch: pytest.MonkeyPatch, test_data: Path
) -> None:
    """Should the walk ever disagree with the reader (here: every depth one off), the reader
    alone answers, and the answers stay right."""
    walk = bulk.walk
    assert walk is not None

    def off_by_one(*args: object) -> tuple[list[int | None], bytes]:
        ends, depths = walk(*args)  # type: ignore[arg-type]
        return ends, bytes((depth + 1) % 129 for depth in depths)

    calls: list[int] = []
    lookup = bulk._answers_by_network

    def by_network(*args: object) -> object:
        calls.append(1)
        return lookup(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "_TREE_BYTES_PER_ADDRESS", 1 << 40)
    monkeypatch.setattr(bulk, "walk", off_by_one)
    monkeypatch.setattr(bulk, "_answers_by_network", by_network)
    paths = [str(test_data / "GeoIP2-City-Test.mmdb")]
    ips = ["81.2.69.160", "2001:218::1", "89.160.20.112", "1.1.1.1"]
    assert _at_once(paths, ips) == _in_turn(paths, ips)
    assert calls == [1]


def test_an_address_no_spot_is_refused_by_the_walk() -> None:
    walk = bulk.walk
    assert walk is not None
    tree = b"\x00\x00\x01" * 2  # one node, both records empty (24 bits each)
    assert walk(tree, 1, 24, 128, [1, _V6_SPOT | 1]) == ([1, 1], bytes([1, 1]))
    for bad in (-1, 2**32, 2**129, _V6_SPOT - 1):
        with pytest.raises(ValueError, match="spot"):
            walk(tree, 1, 24, 128, [bad])
    with pytest.raises(ValueError, match="shorter"):
        walk(tree, 2, 24, 128, [1])
    with pytest.raises(ValueError, match="record size"):
        walk(tree, 1, 20, 128, [1])


def test_a_database_opened_as_usual_is_walked(test_data: Path) -> None:
    """The contrast to the next test: nothing replaced, every tree can be read for a walk (so
    the walk is not silently off, answering right but slowly)."""
    paths = [str(test_data / "GeoIP2-City-Test.mmdb"), *discover_databases([], {})]
    with open_locator(paths) as locator:
        assert all(database.search_tree() is not None for database in locator.opened)


def test_a_database_replaced_as_it_is_opened_is_not_walked(
    monkeypatch: pytest.MonkeyPatch, test_data: Path, tmp_path: Path
) -> None:
    """The path replaced (renamed over, as an update does) right after the reader opened it:
    the reader holds the old file, so the new file's tree must not be walked for it."""
    path = tmp_path / "city.mmdb"
    shutil.copyfile(test_data / "GeoIP2-City-Test.mmdb", path)
    newer = tmp_path / "newer.mmdb"
    shutil.copyfile(test_data / "GeoIP2-Country-Test.mmdb", newer)
    open_database = maxminddb.open_database
    opened: list[str] = []

    def replaced_after(database: str, mode: int) -> maxminddb.Reader:
        reader = open_database(database, mode)
        if opened:  # the first open is the check before (_inspect), the second the reader's
            os.replace(newer, database)
        opened.append(database)
        return reader

    monkeypatch.setattr(bulk, "_TREE_BYTES_PER_ADDRESS", 1 << 40)
    monkeypatch.setattr(maxminddb, "open_database", replaced_after)
    ips = ["81.2.69.160", "2001:218::1", "89.160.20.112", "216.160.83.56", "1.1.1.1"]
    with open_locator([str(path)]) as locator:
        (database,) = locator.opened
        assert database.search_tree() is None
        located = locator.locate_all(ips)
    monkeypatch.undo()
    shutil.copyfile(test_data / "GeoIP2-City-Test.mmdb", path)
    assert list(located) == _in_turn([str(path)], ips)
    assert located[0].city == "London"  # the City file's answer, which the reader holds
