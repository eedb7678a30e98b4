"""Streaming byte source over a capture file: plain or gzip, in large chunks, bounded memory."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from typing import BinaryIO, Final

CHUNK: Final = 1 << 20
GZIP_MAGIC: Final = b"\x1f\x8b"

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
        self.raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.total = os.fstat(self.raw.fileno()).st_size
        self.compressed = self.raw.read(2) == GZIP_MAGIC
        self.raw.seek(0)
        self.gzip: gzip.GzipFile | None = None
        if self.compressed:
            self.gzip = gzip.GzipFile(fileobj=self.raw, mode="rb")
        elif start:
            self.raw.seek(start)
        self.offset = start  # offset in the decompressed stream of the next byte read
        self.stop = stop
        self.overshot = False  # a record straddled ``stop``: reading went on to the end
        self.damage: str | None = None
        self.progress = progress

    def read(self, size: int = CHUNK) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the stream (or of the range)."""
        if self.stop is not None:
            size = min(size, self.stop - self.offset)
            if size <= 0:
                return b""
        parts: list[bytes] = []
        want = size
        while want > 0:
            try:
                # read1 hands over what one step decompressed, so data before damage survives.
                part = self.gzip.read1(want) if self.gzip is not None else self.raw.read(want)
            except (OSError, EOFError, zlib.error) as exc:
                # gzip.BadGzipFile is an OSError; a cut-off stream is an EOFError.
                self.damage = f"compressed data damaged after byte {self.offset}: {exc}"
                break
            if not part:
                break
            parts.append(part)
            want -= len(part)
            self.offset += len(part)
        if self.progress is not None:
            self.progress(self.raw.tell(), self.total)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def extend(self) -> bool:
        """Lift the range's end once a record straddles it; False when already at the end."""
        if self.stop is None:
            return False
        self.stop = None
        self.overshot = True
        return True

    def close(self) -> None:
        if self.gzip is not None:
            self.gzip.close()
        self.raw.close()
