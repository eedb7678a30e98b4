"""Domain errors: each names the file it is about first, and is caught once, at the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class AuditorError(Exception):
    """An expected failure that the CLI turns into one line on stderr and exit status 2."""


class UsageError(AuditorError):
    """The command line asks for something that cannot be done (unknown country code...)."""


class CaptureError(AuditorError):
    """A capture file cannot be read at all (not a capture, unreadable, corrupt header)."""

    def __init__(self, path: str, message: str, offset: int | None = None) -> None:
        self.path = path
        self.reason = message  # without the path and the offset, to build the error again
        self.offset = offset
        # A message that already says where (a reader's "corrupt block ... at offset 96") is
        # not told twice.
        said = offset is None or f"offset {offset}" in message
        where = "" if said else f" at offset {offset}"
        super().__init__(f"{path}: {message}{where}")


class DatabaseError(AuditorError):
    """A geolocation database is missing, corrupt or of a layout the auditor cannot read."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class PolicyError(UsageError):
    """A policy names a country code or group that does not exist."""


class HistoryError(AuditorError):
    """The run history cannot be opened, read or written; the message starts with where it is."""


def read_guarded(name: str, read: Callable[[], T]) -> T:
    """``read()`` of the input ``name``, whatever its kind: an OSError, or a bug in a reader,
    becomes one CaptureError line naming the input instead of a traceback."""
    try:
        return read()
    except CaptureError:
        raise
    except OSError as exc:
        raise CaptureError(name, f"cannot read: {exc.strerror or exc}") from exc
    except Exception as exc:
        raise CaptureError(name, f"internal error while reading: {exc!r}") from exc
