"""Locating many addresses at once: in address order, so that each network is asked once."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import TYPE_CHECKING

from auditor.addresses import address_value, class_of
from auditor.errors import DatabaseError
from auditor.geo.layouts import UNKNOWN, Answer
from auditor.geo.locator import network_bounds, text_of
from auditor.model import Location

if TYPE_CHECKING:
    from auditor.geo.locator import Locator, _Database

# An address as one int, its spot: IPv4's value, IPv6's with bit 128 set. One comparison then
# orders both (IPv4 first) and tells whether a network holds an address of either version.
_V6_SPOT = 1 << 128
# Addresses located together: public-100k's servers in one block; a million in ten, each
# block's sort keys and answer columns let go before the next.
_BLOCK = 1 << 17


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
        version, value = address_value(ip)
        address_class = class_of(version, value)
        if address_class is None:
            public.append(index)
            spots[index] = spot(version, value)
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
        located[index] = Location(ips[index], *place(key))
    return located  # type: ignore[return-value] # every index was filled above


def answers_in_order(db: _Database, spots: Sequence[int]) -> list[Answer]:
    """db.answer() of each address given as its spot, best in ascending order: the network
    last looked up is asked first, and in that order it holds every later address of it, so
    each network met costs one lookup and no cache bookkeeping. Any order is answered right;
    this order is the fast one."""
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
