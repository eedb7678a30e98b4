"""Times as the reports write them: UTC in ISO 8601 with a Z, as datetime writes them, and a
column at a time (by the compiled loop's iso_times where this install has it, else in Python,
which stays its oracle in the tests)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from itertools import repeat
from operator import add, mul, sub
from typing import TypeVar, cast


def iso_time(epoch: float | None) -> str | None:
    """The UTC time as datetime.fromtimestamp(epoch, UTC).isoformat() writes it, with a Z.

    Every endpoint has two (four lines in the JSON report), so the second is formatted once and
    the microseconds worked out here, rounded half to even as datetime rounds them; times
    before 1970 or past 2999 (a damaged capture) take datetime's own path."""
    if epoch is None:
        return None
    if not 0 <= epoch < _FAST_UNTIL:  # NaN fails this too
        return _iso_time_slowly(epoch)
    fraction, whole = math.modf(epoch)
    micro = round(fraction * 1e6)
    second = int(whole)
    if micro >= 1_000_000:
        micro -= 1_000_000
        second += 1
    stamp = _stamp(second)
    return f"{stamp}.{micro:06d}Z" if micro else f"{stamp}Z"


_FAST_UNTIL = 32503680000  # 3000-01-01T00:00:00Z
_SECONDS: dict[int, str] = {}


def iso_times(epochs: Sequence[float | None], quote: str = "") -> list[str | None]:
    """iso_time of each epoch (each text between quotes, when `quote` is given: the JSON
    report's), a column at a time: by the compiled loop's iso_times where this install has
    it, else python_iso_times (its oracle in the tests)."""
    texts = compiled_iso_times(epochs, quote, None)
    return python_iso_times(epochs, quote) if texts is None else texts


N = TypeVar("N")


def compiled_iso_times(
    epochs: Sequence[float | None], quote: str, none: N
) -> list[str | N] | None:
    """iso_times with `none` for each None, by the compiled loop (_loop.iso_times: the report's
    time columns cost about 0.6 us a time in Python); None where it is not built or leaves the
    column to Python (anything iso_time sends to datetime, anything not a float or an int)."""
    compiled = _compiled_times()
    if compiled is None or type(epochs) is not list:
        return None
    return compiled(epochs, quote, none)


@cache
def _compiled_times() -> Callable[[list[float | None], str, N], list[str | N] | None] | None:
    # Imported at the first column, not with this module: `audit history` never reads a capture.
    try:
        from auditor.capture._loop import iso_times as compiled
    except ImportError:  # built without a compiler, or an older build
        return None
    return compiled


def python_iso_times(epochs: Sequence[float | None], quote: str = "") -> list[str | None]:
    """iso_times in Python: the seconds, the microseconds and the text each in one C-level pass
    over the column (a report's times, two per endpoint, cost a Python call each otherwise).
    Anything iso_time treats apart (None, NaN, times outside its fast range, microseconds
    rounding up to the next second) sends the column through iso_time."""
    if not epochs:
        return []
    # A None among them makes min() or int() raise TypeError, a NaN int() ValueError.
    numbers = cast("Sequence[float]", epochs)
    try:
        if min(numbers) < 0 or max(numbers) >= _FAST_UNTIL:
            return _each_iso_time(epochs, quote)
        seconds = list(map(int, numbers))
    except (TypeError, ValueError):
        return _each_iso_time(epochs, quote)
    # epoch - second is exact (the fraction math.modf gives): the second is the epoch's floor.
    micros = list(map(round, map(mul, map(sub, numbers, seconds), repeat(1e6))))
    if max(micros) >= 1_000_000:
        return _each_iso_time(epochs, quote)
    # Each second's text once; every fraction by one format of the whole column (a format
    # per time cost more than the rest of the column's work together).
    stamps = {second: f"{quote}{_stamp(second)}." for second in set(seconds)}
    fractions = ((f"%06dZ{quote}\0" * len(micros)) % tuple(micros)).split("\0")
    fractions.pop()  # what follows the last NUL
    texts: list[str | None] = list(map(add, map(stamps.__getitem__, seconds), fractions))
    if 0 in micros:  # a whole second: datetime writes no fraction
        for index, micro in enumerate(micros):
            if not micro:
                texts[index] = f"{quote}{_stamp(seconds[index])}Z{quote}"
    return texts


def _each_iso_time(epochs: Sequence[float | None], quote: str) -> list[str | None]:
    texts = list(map(iso_time, epochs))
    if not quote:
        return texts
    return [None if text is None else f"{quote}{text}{quote}" for text in texts]


def _stamp(second: int) -> str:
    """The second as text, remembered: a capture's times fall in few seconds."""
    stamp = _SECONDS.get(second)
    if stamp is None:
        if len(_SECONDS) >= 100_000:
            _SECONDS.clear()
        stamp = _SECONDS[second] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return stamp


def _iso_time_slowly(epoch: float) -> str | None:
    try:
        moment = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):  # a damaged capture timestamp: no such date
        return None
    return moment.isoformat().replace("+00:00", "Z")
