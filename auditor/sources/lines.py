"""Text inputs (logs, JSON dumps), plain or gzip, read in bounded memory.

The bytes come through the capture stage's ByteSource, so a damaged or bomb-like gzip stream is
handled the same way: the text before the damage is kept and ``damage`` says why it ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from auditor.capture.source import ByteSource

MAX_LINE: Final = 1 << 20  # a log line longer than this is damage, not a record
MAX_DOCUMENT: Final = 64 << 20  # a WebRTC dump is one JSON document; Chrome's are a few MB


@dataclass(frozen=True, slots=True)
class Line:
    offset: int  # of its first byte in the (decompressed) stream
    text: bytes | None  # None: longer than MAX_LINE, dropped


class TextSource:
    """A text input's lines (or its whole text), and what the byte source said about it."""

    def __init__(self, path: str, progress: Callable[[int, int], None] | None = None) -> None:
        self.path = path
        self._src = ByteSource(path, progress=progress)
        self.compressed = self._src.compressed

    def __enter__(self) -> TextSource:
        return self

    def __exit__(self, *_: object) -> None:
        self._src.close()

    @property
    def damage(self) -> str | None:
        return self._src.damage

    def lines(self, max_line: int = MAX_LINE) -> Iterator[Line]:
        """Every line, without its line end; a last line without a newline too."""
        pending = b""
        start = 0  # stream offset of pending's first byte
        dropping = False  # inside an overlong line, skipping to its end
        while chunk := self._src.read():
            data = pending + chunk
            position = 0
            while (end := data.find(b"\n", position)) >= 0:
                if dropping:
                    dropping = False
                elif end - position > max_line:
                    yield Line(start + position, None)
                else:
                    yield Line(start + position, data[position:end].rstrip(b"\r"))
                position = end + 1
            start += position
            pending = data[position:]
            if len(pending) > max_line:
                if not dropping:
                    yield Line(start, None)
                dropping = True
                start += len(pending)
                pending = b""
        if pending and not dropping:
            yield Line(start, pending.rstrip(b"\r"))

    def whole(self, limit: int = MAX_DOCUMENT) -> bytes | None:
        """All the text, or None when it is longer than ``limit``."""
        parts: list[bytes] = []
        size = 0
        while chunk := self._src.read():
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Head:
    data: bytes
    compressed: bool
    damage: str | None  # why a compressed stream ended before ``data`` was filled


def head(path: str, size: int = 4096) -> Head:
    """The first ``size`` bytes of a file (decompressed)."""
    src = ByteSource(path)
    try:
        src.chunk = size
        return Head(src.read(size), src.compressed, src.damage)
    finally:
        src.close()
