"""Locating many addresses at once: in address order, so that each network is asked once, and
with the search tree walked in C where that pays, so that each distinct record is read once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from socket import AF_INET, inet_pton
from typing import TYPE_CHECKING

from auditor.addresses import address_value, class_of
from auditor.errors import DatabaseError
from auditor.geo.layouts import UNKNOWN, Answer
from auditor.geo.locator import network_bounds, text_of
from auditor.model import Location, build_location

if TYPE_CHECKING:
    from auditor.geo.locator import Locator, _Database

Walk = Callable[[bytes, int, int, int, list[int]], tuple[list[int | None], bytes]]


def _built() -> Walk | None:
    try:
        from auditor.geo._tree import walk
    except ImportError:  # no C compiler at install: every database answers by network
        return None
    return walk


walk = _built()

# An address as one int, its spot: IPv4's value, IPv6's with bit 128 set. One comparison then
# orders both (IPv4 first) and tells whether a network holds an address of either version.
_V6_SPOT = 1 << 128
# Addresses located together: public-100k's servers in one block; a million in ten, each
# block's sort keys and answer columns let go before the next.
_BLOCK = 1 << 17
# A database's search tree is read whole to be walked: the bundled City tree is 50 MB, read in
# ~35-45 ms, and each lookup the walk saves is a few us. Walking it paid from ~12k random public
# addresses (10k: +8%, 30k: -20% in process); so a tree is walked when it is at most this many
# bytes for each address to locate (City from ~24k addresses; Country and ASN from ~3.7k), else
# (a meeting, public-10k's City) each network met is asked.
_TREE_BYTES_PER_ADDRESS = 2048


_from_bytes = int.from_bytes


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
    located: list[Location | None] = [None] * len(ips)
    public: list[int] = []  # indices into ips
    spots: list[int] = [0] * len(ips)  # each public index's spot
    for index, ip in enumerate(ips):
        try:  # most servers' text is IPv4: parsed as address_value would, without two calls
            value = _from_bytes(inet_pton(AF_INET, ip), "big")
            version = 4
        except (OSError, ValueError):
            version, value = address_value(ip)
        address_class = class_of(version, value)
        if address_class is None:
            public.append(index)
            spots[index] = value if version == 4 else value | _V6_SPOT
        else:
            located[index] = Location(ip, address_class=address_class)
    public.sort(key=spots.__getitem__)
    in_order = [spots[index] for index in public]
    del spots
    columns = [answers_in_order(db, in_order) for db in locator.opened]
    del in_order
    keys = zip(*columns, strict=True) if columns else repeat((), len(public))
    place = locator.place
    for index, key in zip(public, keys, strict=True):
        located[index] = build_location(ips[index], *place(key))  # see auditor/frozen.py
    return located  # type: ignore[return-value] # every index was filled above


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
    del tree  # 50 MB for a city database: not held while the answers are gathered
    answers: list[Answer] = []
    append = answers.append
    # None: an IPv6 address in an IPv4-only tree, which answer() says is unknown unasked.
    by_end: dict[int | None, Answer] = {None: UNKNOWN}
    for at, end, depth in zip(spots, ends, depths, strict=True):
        answer = by_end.get(end)
        if answer is None:
            version, value = (4, at) if at < _V6_SPOT else (6, at - _V6_SPOT)
            answer, prefix_len = db.lookup(text_of(version, value), distinct=True)
            # The reader gives an IPv4 address's prefix within IPv4, not within ::a.b.c.d.
            if prefix_len != (max(depth - 96, 0) if version == 4 and bits == 128 else depth):
                return None
            by_end[end] = answer
        append(answer)
    return answers


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
