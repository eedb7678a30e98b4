"""Streaming byte source over a capture file: plain or gzip, in large chunks, bounded memory."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Final

from auditor.capture.inflate import ERRORS, GzipStream

CHUNK: Final = 1 << 20
GZIP_MAGIC: Final = b"\x1f\x8b"
# A gzip bomb: memory stays bounded whatever a stream expands to, but time does not (a GiB of
# zeros is 67 million empty records). Deflate cannot expand more than 1032 times, which only
# runs of one byte reach; captures stay far below: the synthetic 1M-packet meeting (zero
# payloads) compresses 39 times, a million identical packets with advancing timestamps 22, the
# same with one timestamp for all 295. Beyond MAX_RATIO, once past MIN_BOMB bytes (smaller
# streams cost little whatever their ratio), reading stops with a warning: 5 times the most
# compressible capture-like data measured, and below both kinds of bomb.
MAX_RATIO: Final = 200
MIN_BOMB: Final = 64 << 20

Progress = Callable[[int, int], None]


class ByteSource:
    """Reads a capture's (decompressed) bytes from ``start`` up to ``stop`` in chunks.

    Damage in a compressed stream does not raise: the stream just ends early and ``damage``
    says why, so the reader keeps everything before it.
    """

    def __init__(
        self,
        path: str,
        *,
        start: int = 0,
        stop: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self.raw: io.BufferedReader = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.total = os.fstat(self.raw.fileno()).st_size  # 0 for a pipe: no size to split
        # peek, not read-and-seek: a pipe (tcpdump -w - | audit /dev/stdin) cannot seek back.
        self.compressed = self.raw.peek(2)[:2] == GZIP_MAGIC
        self.consumed = _Counted(self.raw)  # compressed bytes read, without tell() on a pipe
        self.gzip: GzipStream | None = None
        if self.compressed:
            self.gzip = GzipStream(self.consumed)
        elif start:
            self.raw.seek(start)
            self.consumed.count = start
        self.offset = start  # offset in the decompressed stream of the next byte read
        self.stop = stop
        self.overshot = False  # a record straddled ``stop``: reading went on to the end
        self.damage: str | None = None
        self.bomb_at = MIN_BOMB  # decompressed offset at which the ratio is next checked
        self.stopped = False  # by the ratio check or end_early: the stream reads as ended
        self.progress = progress
        self.chunk = CHUNK  # read at run time, so that tests can shrink it

    def end_early(self) -> None:
        """Read as if the stream (or range) ended here."""
        self.stopped = True

    def read(self, size: int | None = None) -> bytes:
        """Up to ``size`` bytes (a chunk); fewer only at the end of the stream (or range)."""
        if size is None:
            size = self.chunk
        if self.stopped:
            return b""
        if self.stop is not None:
            size = min(size, self.stop - self.offset)
            if size <= 0:
                return b""
        parts: list[bytes] = []
        want = size
        while want > 0:
            try:
                # read1 hands over what one step decompressed, so data before damage survives.
                part = self.gzip.read1(want) if self.gzip is not None else self.consumed.read(want)
            except ERRORS as exc:
                self.damage = f"compressed data damaged after byte {self.offset}: {exc}"
                break
            if not part:
                break
            parts.append(part)
            want -= len(part)
            self.offset += len(part)
            if self.offset >= self.bomb_at and self._exploded():
                break
        if self.progress is not None:
            self.progress(self.consumed.count, self.total)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buf: bytearray, start: int) -> int:
        """Read into ``buf[start:]``; 0 only at the end of the stream (or of the range)."""
        end = len(buf)
        if self.stopped:
            return 0
        if self.stop is not None:
            end = min(end, start + self.stop - self.offset)
        if end <= start:
            return 0
        with memoryview(buf) as view, view[start:end] as target:
            try:
                if self.gzip is not None:
                    got = self.gzip.readinto1(target)
                else:
                    got = self.consumed.readinto(target)
            except ERRORS as exc:
                self.damage = f"compressed data damaged after byte {self.offset}: {exc}"
                return 0
        self.offset += got
        if self.offset >= self.bomb_at and self._exploded():
            return got
        if self.progress is not None:
            self.progress(self.consumed.count, self.total)
        return got

    def _exploded(self) -> bool:
        """Whether the stream expanded past MAX_RATIO; then it ends here, with a warning."""
        if self.gzip is None:
            self.bomb_at = 1 << 62
            return False
        self.bomb_at = self.offset + CHUNK
        # What inflate took, not what was read ahead for it (up to inflate.INPUT bytes).
        compressed = max(self.consumed.count - self.gzip.unused, 1)
        if self.offset <= MAX_RATIO * compressed:
            return False
        self.damage = (
            f"decompressed size exceeds {MAX_RATIO} times the compressed size"
            f" ({self.offset} bytes from {compressed}; a gzip bomb?):"
            f" stopped reading at offset {self.offset}"
        )
        self.stopped = True
        return True

    def extend(self) -> bool:
        """Lift the range's end once a record straddles it; False when already at the end."""
        if self.stop is None:
            return False
        self.stop = None
        self.overshot = True
        return True

    def close(self) -> None:
        self.raw.close()


Window = tuple[bytearray, int, int, int]  # buffer, stream offset of its start, position, fill


def window(src: ByteSource, head: bytes) -> Window:
    """A reusable buffer holding ``head``, the bytes just read from ``src``."""
    buf = bytearray(max(src.chunk, len(head)))
    buf[: len(head)] = head
    return buf, src.offset - len(head), 0, len(head)


def refill(src: ByteSource, buf: bytearray, base: int, pos: int, n: int, *, need: int) -> Window:
    """Keep ``buf[pos:n]``, move it to the front and fill the buffer: ``need`` bytes at least,
    unless the stream ends first.

    The buffer is reused rather than a fresh one read per chunk: allocating and faulting in
    a new megabyte per chunk cost a quarter of the whole read.
    """
    rest = n - pos
    if len(buf) < need:
        bigger = bytearray(need)
        bigger[:rest] = buf[pos:n]
        buf = bigger
    elif rest and pos:
        buf[:rest] = buf[pos:n]
    filled = rest
    while filled < len(buf):
        got = src.readinto(buf, filled)
        if got:
            filled += got
            continue
        # A record straddles the end of this worker's byte range: finish it (and what
        # follows, since the next worker's start was a false sync) rather than stop.
        if 0 < filled < need and src.extend():
            continue
        break
    return buf, base + pos, 0, filled


class _Counted:
    """The file's bytes, counting how many were read: tell() fails on a pipe."""

    __slots__ = ("count", "raw")

    def __init__(self, raw: io.BufferedReader) -> None:
        self.raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data

    def readinto(self, target: memoryview) -> int:
        got = self.raw.readinto(target)
        self.count += got
        return got
