"""gzip streams decompressed as they are read: zlib-ng's inflate when it is installed, else zlib.

On a gzipped capture the stdlib's GzipFile spent five sixths of the audit in the system zlib's
inflate (2.0 of 2.5 CPU s on the bench's headline file); zlib-ng (the `zlib-ng` package, the
zlib API over the zlib-ng library) inflates the same stream in 0.3 s. Its own GzipFile is not
used: it inflates a megabyte per call and loses that megabyte when the stream turns out to be
cut short, where the stdlib hands over everything before the cut.

So this reader keeps the stdlib's semantics (gzip._GzipReader), and a damaged capture reads as
it did: members one after another, zero padding between them, each member's CRC-32 and length
checked only after all its data has been handed over (a damaged trailer loses nothing), a
stream cut short handed over up to the cut and then EOFError, the stdlib's messages. Only
where the deflate data itself is corrupt can less come out before the error: the output of one
call (INPUT bytes of compressed input, 64 KiB; the stdlib's 8 KiB, which costs twice the time).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from gzip import BadGzipFile
from typing import Final, Protocol


class Inflater(Protocol):
    """zlib's decompressobj, or zlib-ng's."""

    @property
    def eof(self) -> bool: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes: ...


def _library() -> tuple[Callable[[int], Inflater], Callable[[bytes, int], int], type[Exception]]:
    try:
        from zlib_ng import zlib_ng
    except ImportError:  # the stdlib's zlib: slower, the same results
        return zlib.decompressobj, zlib.crc32, zlib.error
    # zlib-ng's stub declares its error class an instance of Exception.
    error: type[Exception] = zlib_ng.error  # type: ignore[assignment]
    return zlib_ng.decompressobj, zlib_ng.crc32, error


_decompressobj, _crc32, _error = _library()

# What a damaged stream raises: BadGzipFile is an OSError; a cut-off stream an EOFError.
ERRORS: Final = (OSError, EOFError, zlib.error, _error)

INPUT: Final = 64 << 10
_MAGIC: Final = b"\x1f\x8b"
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 2, 4, 8, 16
_ENDED: Final = "Compressed file ended before the end-of-stream marker was reached"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class GzipStream:
    """The decompressed bytes of the gzip stream ``raw`` gives, through read1/readinto1."""

    def __init__(self, raw: Readable, *, chunk: int = INPUT) -> None:
        self._raw = raw
        self._chunk = chunk  # compressed bytes given to inflate per call
        self._pending = b""  # compressed bytes read from raw and not used yet
        self._inflate: Inflater | None = None  # None between members
        self._crc = 0
        self._size = 0  # this member's decompressed size so far

    def read1(self, size: int) -> bytes:
        """Up to ``size`` bytes, at least one; b"" only at the end of the stream."""
        if size <= 0:
            return b""
        while True:
            inflate = self._inflate
            if inflate is not None and inflate.eof:
                self._end_member()
                inflate = None
            if inflate is None:
                inflate = self._begin_member()
                if inflate is None:
                    return b""
            data = self._read(self._chunk)
            out = inflate.decompress(data, size)
            # What inflate did not take goes back in front: the rest of this member's data, or
            # (after its end) the trailer and whatever follows it.
            self._pending = (inflate.unconsumed_tail or inflate.unused_data) + self._pending
            if out:
                self._crc = _crc32(out, self._crc)
                self._size += len(out)
                return out
            if not data:
                raise EOFError(_ENDED)

    @property
    def unused(self) -> int:
        """Compressed bytes read from ``raw`` that inflate has not taken yet."""
        return len(self._pending)

    def readinto1(self, target: memoryview) -> int:
        data = self.read1(len(target))
        target[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        """Up to ``size`` compressed bytes, the pending ones first."""
        pending = self._pending
        if len(pending) >= size:
            self._pending = pending[size:]
            return pending[:size]
        self._pending = b""
        return pending + self._raw.read(size - len(pending)) if pending else self._raw.read(size)

    def _exactly(self, size: int) -> bytes:
        data = self._read(size)
        while len(data) < size:
            more = self._read(size - len(data))
            if not more:
                raise EOFError(_ENDED)
            data += more
        return data

    def _skip_through_zero(self) -> None:
        """A name or comment: bytes up to a zero byte (or the end of the stream)."""
        while True:
            data = self._read(self._chunk)
            end = data.find(b"\0")
            if end >= 0:
                self._pending = data[end + 1 :] + self._pending
                return
            if not data:
                return

    def _begin_member(self) -> Inflater | None:
        """Read a member's header and start inflating its data; None at the end of the stream."""
        magic = self._read(2)
        if not magic:
            return None
        if magic != _MAGIC:
            raise BadGzipFile(f"Not a gzipped file ({magic!r})")
        method, flags = struct.unpack("<BBIxx", self._exactly(8))[:2]
        if method != 8:
            raise BadGzipFile("Unknown compression method")
        if flags & _FEXTRA:
            self._exactly(struct.unpack("<H", self._exactly(2))[0])
        if flags & _FNAME:
            self._skip_through_zero()
        if flags & _FCOMMENT:
            self._skip_through_zero()
        if flags & _FHCRC:
            self._exactly(2)
        self._inflate = _decompressobj(-zlib.MAX_WBITS)
        self._crc = self._size = 0
        return self._inflate

    def _end_member(self) -> None:
        """Check the member's trailer, then skip the zero bytes gzip files may be padded with."""
        crc, size = struct.unpack("<II", self._exactly(8))
        if crc != self._crc:
            raise BadGzipFile(f"CRC check failed {hex(crc)} != {hex(self._crc)}")
        if size != self._size & 0xFFFFFFFF:
            raise BadGzipFile("Incorrect length of data produced")
        self._inflate = None
        while data := self._read(self._chunk):
            rest = data.lstrip(b"\0")
            if rest:
                self._pending = rest + self._pending
                return
