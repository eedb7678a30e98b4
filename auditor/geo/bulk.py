"""Locating many addresses at once: in address order, so that each network is asked once, and
with the search tree walked in C where that pays, so that each distinct record is read once."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import repeat, starmap
from mmap import mmap
from socket import AF_INET, inet_pton
from sys import byteorder
from typing import TYPE_CHECKING

from auditor.addresses import AddressClass, address_value, class_segments
from auditor.errors import DatabaseError
from auditor.geo.layouts import UNKNOWN, Answer
from auditor.geo.locator import network_bounds, text_of
from auditor.model import Location, build_location

if TYPE_CHECKING:
    from auditor.geo.locator import Locator, _Database
    from auditor.geo.merge import Place

Walk = Callable[[bytes | mmap, int, int, int, list[int]], tuple[list[int | None], bytes]]


def _built() -> Walk | None:
    try:
        from auditor.geo._tree import walk
    except ImportError:  # no C compiler at install: every database answers by network
        return None
    return walk


walk = _built()


def group_in_python(columns: list[list[object]]) -> tuple[list[int], list[int]]:
    """(firsts, index): rows alike hold the same objects (by identity) in every column; index
    gives each row's group, numbered in the order first met, and firsts each group's first
    row. The compiled group's oracle, and what runs without it."""
    numbers: dict[tuple[int, ...], int] = {}
    firsts: list[int] = []
    index: list[int] = []
    for row, key in enumerate(zip(*[map(id, column) for column in columns], strict=True)):
        number = numbers.get(key)
        if number is None:
            number = numbers[key] = len(firsts)
            firsts.append(row)
        index.append(number)
    return firsts, index


def _built_group() -> Callable[[list[list[object]]], tuple[list[int], list[int]]]:
    try:
        from auditor.geo._tree import group as compiled
    except ImportError:  # no C compiler at install, or a build older than this file
        return group_in_python
    return compiled


# public-100k's 100k servers grouped by their 3 answers: ~0.055 CPU s by key tuples in a dict
# and a map over them, ~0.01 s compiled.
group = _built_group()

# An address as one int, its spot: IPv4's value, IPv6's with bit 128 set. One comparison then
# orders both (IPv4 first) and tells whether a network holds an address of either version.
_V6_SPOT = 1 << 128
# Addresses located together: public-100k's servers in one block; a million in ten, each
# block's sort keys and answer columns let go before the next.
_BLOCK = 1 << 17
# A database's search tree is mapped to be walked (locator._Database.search_tree), and a walk
# touches only the pages it needs: walking paid at every size measured, from 5 addresses to
# 100k (public-10k's 10k: 0.12 -> 0.095 CPU s; 3k of them: 0.048 -> 0.033; 100: 1.3 -> 1.1 ms).
# So every tree is walked, whatever its size for each address to locate (when the tree was
# read whole, 50 MB for the bundled City, it paid only from ~12k addresses).
_TREE_BYTES_PER_ADDRESS = 1 << 40


_from_bytes = int.from_bytes
# The array typecode of a 4-byte word (an IPv4 address), if the platform has one.
_WORD = next((code for code in "IL" if array(code).itemsize == 4), None)


def _spot_segments() -> tuple[list[int], list[AddressClass | None]]:
    """Both versions' address class segments (addresses.class_segments) as spots, in order."""
    v4_starts, v4_classes = class_segments(4)
    v6_starts, v6_classes = class_segments(6)
    return [*v4_starts, *(start | _V6_SPOT for start in v6_starts)], [*v4_classes, *v6_classes]


_SEGMENT_STARTS, _SEGMENT_CLASSES = _spot_segments()
_SEGMENT_ENDS = [*_SEGMENT_STARTS[1:], _V6_SPOT << 1]  # each segment's end, past its last spot


def spot(version: int, value: int) -> int:
    return value if version == 4 else value | _V6_SPOT


def locate_all(locator: Locator, ips: Sequence[str]) -> tuple[Location, ...]:
    """locator.locate() of each address, in the order given: the public ones looked up in
    address order, so that the addresses of one network come together and it is asked once.
    In blocks of _BLOCK addresses, so that a million servers' sort keys are never all held.

    Raises as locate() would for the first address, in the order given, that fails: a failure
    met in address order is located again one by one, in the order given.
    """
    try:
        located: list[Location] = []
        for start in range(0, len(ips), _BLOCK):
            located.extend(_located_in_address_order(locator, ips[start : start + _BLOCK]))
        return tuple(located)
    except (DatabaseError, ValueError):
        return tuple([locator.locate(ip) for ip in ips])


def _located_in_address_order(locator: Locator, ips: Sequence[str]) -> list[Location]:
    """Each address parsed, sorted and classed at C speed (maps, a sort and a bisection per
    address class segment), each database's answers gathered in address order, and each
    distinct place merged once: public-100k's first loop over the addresses in Python cost
    ~0.08 s, and asking place() for each of 100k servers by its answers ~0.25 s."""
    located: list[Location | None] = [None] * len(ips)
    spots = _spots(ips)
    order = sorted(range(len(ips)), key=spots.__getitem__)
    in_order = list(map(spots.__getitem__, order))
    del spots
    public, public_spots = _public(ips, order, in_order, located)
    del order, in_order
    columns = [answers_in_order(db, public_spots) for db in locator.opened]
    del public_spots
    places = _places(locator, columns, len(public))
    del columns
    rows = map(tuple.__add__, zip(map(ips.__getitem__, public)), places)
    for index, location in zip(public, starmap(build_location, rows), strict=True):
        located[index] = location  # see auditor/frozen.py
    return located  # type: ignore[return-value] # every index was filled above


def _spots(ips: Sequence[str]) -> list[int]:
    """Each address's spot. All IPv4 text (public-100k's): parsed by one map of inet_pton and
    read as big-endian words, ~8x faster than a loop in Python; else one by one."""
    if _WORD is not None:
        try:
            packed = b"".join(map(inet_pton, repeat(AF_INET), ips))
        except (OSError, ValueError):  # some text is no IPv4 address inet_pton takes
            pass
        else:
            words = array(_WORD, packed)
            if byteorder == "little":
                words.byteswap()
            return words.tolist()
    return list(map(_spot_of, ips))


def _spot_of(ip: str) -> int:
    try:  # most servers' text is IPv4: parsed as address_value would, without two calls
        return _from_bytes(inet_pton(AF_INET, ip), "big")
    except (OSError, ValueError):
        version, value = address_value(ip)
    return value if version == 4 else value | _V6_SPOT


def _public(
    ips: Sequence[str], order: list[int], in_order: list[int], located: list[Location | None]
) -> tuple[list[int], list[int]]:
    """(the public addresses' indices, their spots), in address order; each local address
    located in ``located``. In address order the addresses of each class segment (see
    addresses._segments) lie together: two bisections find them."""
    public: list[int] = []
    public_spots: list[int] = []
    low = 0
    for end, address_class in zip(_SEGMENT_ENDS, _SEGMENT_CLASSES, strict=True):
        if low == len(in_order):
            break
        high = bisect_left(in_order, end, low)
        if address_class is None:
            public.extend(order[low:high])
            public_spots.extend(in_order[low:high])
        else:
            for index in order[low:high]:
                located[index] = Location(ips[index], address_class=address_class)
        low = high
    return public, public_spots


def _places(locator: Locator, columns: list[list[Answer]], count: int) -> list[Place]:
    """locator.place() of each address's answers (one column per database), asked once per
    distinct answers: the key is the answers' identities, ints that hash at C speed, where a
    tuple of Answers hashes every field for each address."""
    if not columns:
        return [locator.place(())] * count
    # The columns hold every answer until the places are made: no identity is reused, and the
    # answers of one group are the same objects.
    firsts, index = group(columns)  # type: ignore[arg-type] # a list of lists of answers
    place = locator.place
    # Each group's answers, from its first row: by maps and a zip (a list display per group
    # cost ~0.5 us each of 22.8k).
    held = zip(*[list(map(column.__getitem__, firsts)) for column in columns], strict=True)
    places = list(map(place, held))
    return list(map(places.__getitem__, index))


def answers_in_order(db: _Database, spots: Sequence[int]) -> list[Answer]:
    """db.answer() of each address given as its spot, best in ascending order."""
    if walk is not None and db.tree_size <= len(spots) * _TREE_BYTES_PER_ADDRESS:
        answers = _answers_by_walk(db, spots)
        if answers is not None:
            return answers
    return _answers_by_network(db, spots)


def _answers_by_walk(db: _Database, spots: Sequence[int]) -> list[Answer] | None:
    """The tree walked in C for every address (see _tree.c), and the reader asked once for each
    place a walk ends on: that is one per distinct record (the city database answers 100k
    public servers from 71k networks but 18k records), where asking per network costs a
    lookup and a decode for each of those networks.

    The reader's prefix length is checked against the walk's depth at each lookup; on any
    difference (a tree the walk reads otherwise than libmaxminddb) or a tree it cannot walk,
    None: the reader alone then answers. A failed lookup raises, as answer() would."""
    assert walk is not None  # noqa: S101 - answers_in_order asks only when it is
    tree = db.search_tree()
    if tree is None:
        return None
    bits = 128 if db.info.ip_version == 6 else 32
    try:
        ends, depths = walk(*tree, bits, list(spots))
    except ValueError:
        return None
    finally:
        tree[0].close()  # 50 MB mapped for a city database: not held while answers gather
    # Each distinct end asked once, in the order first met, for the first address ending
    # there; then every address's answer by a map (a loop in Python over 100k addresses per
    # database cost ~0.05 s). The walk gives the addresses of one end one int object, so
    # grouping them by identity groups them by end (were two equal ends two objects, the
    # end would be asked twice, with the same answer). None: an IPv6 address in an IPv4-only
    # tree, which answer() says is unknown unasked.
    firsts, index = group([ends])  # type: ignore[list-item] # a list of ints and None
    by_group: list[Answer] = []
    for first in firsts:
        end = ends[first]
        if end is None:
            by_group.append(UNKNOWN)
            continue
        at, depth = spots[first], depths[first]
        version, value = (4, at) if at < _V6_SPOT else (6, at - _V6_SPOT)
        answer, prefix_len = db.lookup(text_of(version, value), distinct=True)
        # The reader gives an IPv4 address's prefix within IPv4, not within ::a.b.c.d.
        if prefix_len != (max(depth - 96, 0) if version == 4 and bits == 128 else depth):
            return None
        by_group.append(answer)
    return list(map(by_group.__getitem__, index))


def _answers_by_network(db: _Database, spots: Sequence[int]) -> list[Answer]:
    """The network last looked up is asked first, and in ascending order it holds every later
    address of it, so each network met costs one lookup and no cache bookkeeping. Any order
    is answered right; ascending order is the fast one."""
    answers: list[Answer] = []
    append = answers.append
    ipv4_only = db.info.ip_version == 4
    first, last, answer = 1, 0, UNKNOWN  # no network held yet
    for at in spots:
        if first <= at <= last:
            append(answer)
            continue
        version, value = (4, at) if at < _V6_SPOT else (6, at - _V6_SPOT)
        if version == 6 and ipv4_only:
            append(UNKNOWN)  # as answer() says
            continue
        answer, prefix_len = db.lookup(text_of(version, value))
        append(answer)
        bounds = network_bounds(version, value, prefix_len)
        first, last = (spot(version, bounds[0]), spot(version, bounds[1])) if bounds else (1, 0)
    return answers
