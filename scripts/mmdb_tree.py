"""Write sorted address ranges as an mmdb file, in time linear in the networks.

For the bundled city database: DB-IP Lite City splits the address space into about 15 million
networks, more than mmdb-writer's per-bit insertion can take in reasonable time (it managed
300,000 networks in 80 s here, so the whole file would take hours). ``write_ranges`` builds the
search tree for sorted, disjoint (first, last, value) ranges of the IPv6 space by halving
address blocks, so that a block wholly inside one range becomes a single leaf; the data section
is encoded with mmdb-writer's own Encoder (types, pointers, deduplication), so the format's
byte-level rules stay the maintained library's.

MaxMind DB format: https://maxmind.github.io/MaxMind-DB/
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from mmdb_writer import METADATA_MAGIC, Encoder

_DATA_SEPARATOR = 16  # zero bytes between the tree and the data section
_EMPTY = -1  # a child with no data
# Ranges reach 2**128: deep enough that the default recursion limit (1000) is never near, but
# the build recurses once per bit, so keep the margin explicit.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 2000))


class _Tree:
    """The search tree under construction: two child lists, leaves as value indexes."""

    def __init__(self, starts: Sequence[int], ends: Sequence[int], values: Sequence[int]) -> None:
        self.starts, self.ends, self.values = starts, ends, values
        self.left: list[int] = []
        self.right: list[int] = []

    def build(self, low: int, high: int, first: int, bits: int) -> int:
        """The child for block [first, first + 2**bits): a node index, a leaf or _EMPTY.

        Leaves are encoded as -2 - value index. ``low:high`` are the ranges touching the block.
        """
        if low >= high:
            return _EMPTY
        last = first + (1 << bits) - 1
        if high - low == 1 and self.starts[low] <= first and self.ends[low] >= last:
            return -2 - self.values[low]
        if bits == 0:
            raise ValueError(f"ranges overlap at address {first}")
        node = len(self.left)
        self.left.append(_EMPTY)
        self.right.append(_EMPTY)
        middle = first + (1 << (bits - 1))
        split_left = bisect_left(self.starts, middle, low, high)  # ranges starting below middle
        split_right = bisect_left(self.ends, middle, low, high)  # ranges ending at/after middle
        self.left[node] = self.build(low, split_left, first, bits - 1)
        self.right[node] = self.build(split_right, high, middle, bits - 1)
        return node


def write_ranges(
    target: Path,
    ranges: Sequence[tuple[int, int, int]],
    values: Sequence[Any],
    metadata: Mapping[str, Any],
) -> None:
    """Write sorted, disjoint (first, last, value index) IPv6-space ranges as an mmdb file.

    IPv4 addresses go in as ::a.b.c.d (the ::/96 block), where readers look them up in an IPv6
    database. Adjacent ranges with the same value should be merged first: a block is a leaf
    only when one range covers it. ``metadata`` gets node_count, record_size and ip_version.
    """
    for (_, last, _), (first, _, _) in pairwise(ranges):
        if first <= last:
            raise ValueError(f"ranges are not sorted and disjoint at address {first}")
    tree = _Tree([r[0] for r in ranges], [r[1] for r in ranges], [r[2] for r in ranges])
    root = tree.build(0, len(ranges), 0, 128)
    if root < 0:
        raise ValueError("the tree needs at least two networks")
    encoder = Encoder(cache=True, int_type="auto", float_type="f32")
    offsets = [encoder.encode(value, return_offset=True) for value in values]
    data = b"".join(encoder.data_list)
    node_count = len(tree.left)
    record_size = _record_size(node_count + _DATA_SEPARATOR + len(data))
    leaf_base = node_count + _DATA_SEPARATOR

    def record(child: int) -> int:
        if child == _EMPTY:
            return node_count
        if child < _EMPTY:
            return leaf_base + offsets[-2 - child]
        return child

    packed = bytearray()
    pack = _packer(record_size)
    for left, right in zip(tree.left, tree.right, strict=True):
        packed += pack(record(left), record(right))
    meta = {**metadata, "node_count": node_count, "record_size": record_size, "ip_version": 6}
    with target.open("wb") as output:
        output.write(packed)
        output.write(bytes(_DATA_SEPARATOR))
        output.write(data)
        output.write(METADATA_MAGIC)
        output.write(Encoder(cache=False).encode_meta(meta))


def _record_size(largest: int) -> int:
    bits = max(1, math.ceil(math.log2(largest + 1)))
    for size in (24, 28, 32):
        if bits <= size:
            return size
    raise ValueError("the database is too large for 32-bit records")


def _packer(record_size: int) -> Callable[[int, int], bytes]:
    if record_size == 24:
        return lambda left, right: left.to_bytes(3, "big") + right.to_bytes(3, "big")
    if record_size == 28:

        def pack28(left: int, right: int) -> bytes:
            middle = ((left >> 24) << 4) | (right >> 24)
            return (
                (left & 0xFFFFFF).to_bytes(3, "big")
                + bytes((middle,))
                + (right & 0xFFFFFF).to_bytes(3, "big")
            )

        return pack28
    return lambda left, right: left.to_bytes(4, "big") + right.to_bytes(4, "big")
