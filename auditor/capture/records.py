"""The small records the flow table keeps: a direction's counters, held-back fragments and
sightings."""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from auditor.model import NameSighting, SignalledAddress

# One list per direction of a flow, indexed by these positions; a list (not an object) because
# the hot loop updates it in place with the cheapest operations CPython has.
PACKETS: Final = 0
BYTES: Final = 1
FIRST_TS: Final = 2
LAST_TS: Final = 3
FIRST_FRAME: Final = 4
SYN: Final = 5
# Only on a direction that opened with a bare SYN and whose second packet was no SYN: that
# packet's time (its ACK of the SYN/ACK: see packed.py). Appended, so other records stay small.
ACK_TS: Final = 6

Record = list[float]  # [packets, bytes, first_ts, last_ts, first_frame, syn]; ints stay ints


def count_packet(record: Record, nbytes: int, ts: float, syn: int) -> None:
    """One more packet of a known direction (the general path; the fast loops inline this)."""
    record[PACKETS] += 1
    record[BYTES] += nbytes
    if ts > record[LAST_TS]:
        record[LAST_TS] = ts
    elif ts < record[FIRST_TS]:
        record[FIRST_TS] = ts
    if syn:
        record[SYN] = 1


class Orphan(NamedTuple):
    """A later fragment whose first fragment a byte range did not see, held for the merge."""

    version: int  # IP version
    frag_key: bytes
    proto: int
    pair: bytes  # address-pair key, where it goes when no first fragment is found
    nbytes: int
    ts: float
    frame: int


class KindSighting(NamedTuple):
    """The payload kinds (model.PayloadKind bits) one tapped packet of a direction showed."""

    proto: int
    key: bytes
    kinds: int


# What a tapped packet can show: a name, what its payload is, an address STUN/TURN named.
Sighting = NameSighting | KindSighting | SignalledAddress


class Pending(NamedTuple):
    """A sighting in a range starting mid-file, kept until the merge can tell whether one pass
    would have made it."""

    sighting: Sighting
    proto: int
    key: bytes  # the flow's directional key
    packet: int  # the packet's index among its direction's packets, or -1
    frame: int


# A TCP/UDP key's fields as numbers: the reversed key is one unpack and one pack (half the
# time of four slices joined; pairing asks it for every direction: a million in a port scan).
_V4_PORTED = struct.Struct(">IIHH")
_V6_PORTED = struct.Struct(">QQQQHH")
_unpack4, _pack4 = _V4_PORTED.unpack, _V4_PORTED.pack
_unpack6, _pack6 = _V6_PORTED.unpack, _V6_PORTED.pack


def reverse_key(key: bytes) -> bytes:
    """The key of the other direction: addresses swapped, and ports if it has them."""
    n = len(key)
    if n == 12:  # IPv4 with ports
        a, b, a_port, b_port = _unpack4(key)
        return _pack4(b, a, b_port, a_port)
    if n == 36:  # IPv6 with ports
        a_hi, a_lo, b_hi, b_lo, a_port, b_port = _unpack6(key)
        return _pack6(b_hi, b_lo, a_hi, a_lo, b_port, a_port)
    half = n // 2
    return key[half:] + key[:half]
