"""Byte-level edits of a capture: the damage the fuzz run and the property tests apply."""

from __future__ import annotations

from collections.abc import Sequence

# 32-bit values that sit on the reader's limits: zero, sign bits, MAX_CAPLEN, MAX_BLOCK, all ones.
EXTREMES = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x40000, 0x40001,
            0x1000000, 0x1000004)
KINDS = ("flip", "byte", "word", "insert", "delete")

Edit = tuple[str, int, int]  # (kind, offset, a value that picks the bit, byte, word or run)


def mutate(data: bytes, edits: Sequence[Edit]) -> bytes:
    """Apply ``edits`` from the last offset to the first, so each offset means the original's."""
    out = bytearray(data)
    for kind, offset, value in sorted(edits, key=lambda edit: edit[1], reverse=True):
        at = min(offset, len(out))
        if kind == "flip" and at < len(out):
            out[at] ^= 1 << (value % 8)
        elif kind == "byte" and at < len(out):
            out[at] = value & 0xFF
        elif kind == "word":
            word = EXTREMES[value % len(EXTREMES)] if value % 3 else value & 0xFFFFFFFF
            out[at : at + 4] = word.to_bytes(4, "little" if value & 1 else "big")
        elif kind == "insert":
            out[at:at] = bytes([value & 0xFF]) * (1 + value % 9)
        elif kind == "delete":
            del out[at : at + 1 + value % 9]
    return bytes(out)
