"""The report's time columns: the compiled loop's iso_times and the Python one each write every
time exactly as datetime does (rounding half to even, into the next second, every date)."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.capture import fastpath
from auditor.report import times
from auditor.report.json_rows import json_times
from auditor.report.json_text import ONE_LINE
from auditor.report.times import compiled_iso_times, iso_time, iso_times, python_iso_times

FAST_UNTIL = 32503680000  # 3000-01-01: past it (or before 1970) both leave it to datetime


def _datetime_text(epoch: float | None) -> str | None:
    """The oracle: datetime's own text, with a Z."""
    if epoch is None:
        return None
    try:
        moment = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def _ties(second: int) -> list[float]:
    """Epochs whose microseconds are exactly k + 0.5 as the double product computes them, for
    even and odd k: past 2**30 s a fraction is a multiple of 2**-22, and 1e6 * 2**-22 is the
    exact 15625 / 65536, so m * 15625 == 32768 (mod 65536) is a tie."""
    assert 2**30 <= second < 2**31
    first = 32768 * pow(15625, -1, 65536) % 65536
    return [second + m / 2**22 for m in range(first, 2**22, 65536)]


TIES = _ties(1_700_000_000)


def _compiled(epochs: list[float | None], quote: str = "") -> list[str | None] | None:
    if times._compiled_times() is None:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    return compiled_iso_times(epochs, quote, None)


def test_the_ties_are_ties_of_both_parities() -> None:
    halves = [math.modf(epoch)[0] * 1e6 for epoch in TIES]
    assert len(TIES) == 64
    assert all(half % 1 == 0.5 for half in halves)
    assert {int(half) % 2 for half in halves} == {0, 1}


@pytest.mark.parametrize("quote", ["", '"'])
def test_ties_round_half_to_even_as_datetime(quote: str) -> None:
    wanted = [f"{quote}{_datetime_text(epoch)}{quote}" for epoch in TIES]
    assert python_iso_times(TIES, quote) == wanted
    assert _compiled(list(TIES), quote) == wanted


EDGES = [
    0.0, -0.0, 0.5, 1.0, 951_782_400.0, 951_868_799.9999996,  # 2000-02-29, into 03-01
    1_704_067_199.9999996,  # 2023-12-31T23:59:59.9999996: into the next year
    4_107_542_399.0, 4_107_542_400.5,  # 2100-02-28, then 03-01: 2100 is not a leap year
    1_700_000_000.000001, 1_700_000_000.999999, 1_700_000_000.0000005,
    math.nextafter(FAST_UNTIL, 0), 2**31 - 1.0, 2.0**31, 2.0**32 + 0.25,
]


@pytest.mark.parametrize("quote", ["", '"'])
def test_edges_of_the_calendar_as_datetime(quote: str) -> None:
    wanted = [f"{quote}{_datetime_text(epoch)}{quote}" for epoch in EDGES]
    assert python_iso_times(EDGES, quote) == wanted
    assert _compiled(list(EDGES), quote) == wanted


_IN_RANGE = st.floats(0, FAST_UNTIL, exclude_max=True) | st.integers(0, FAST_UNTIL - 1)
_ANY = st.one_of(
    st.none(), _IN_RANGE, st.floats(), st.integers(-(2**70), 2**70), st.booleans(),
    st.floats(1.7e9, 1.7e9 + 3), st.sampled_from(TIES),
)


@settings(max_examples=300)
@given(st.lists(_IN_RANGE | st.none() | st.sampled_from(TIES), max_size=40),
       st.sampled_from(["", '"']))
def test_the_compiled_column_is_datetime_s_text(epochs: list[float | None], quote: str) -> None:
    wanted = [None if e is None else f"{quote}{_datetime_text(e)}{quote}" for e in epochs]
    assert _compiled(epochs, quote) == wanted


@settings(max_examples=300)
@given(st.lists(_ANY, max_size=30), st.sampled_from(["", '"']))
def test_every_column_is_each_iso_time(epochs: list[float | None], quote: str) -> None:
    """Whatever the column holds (NaN, negative, past 2999, an int past a double, a bool), the
    answer is iso_time's: where the compiled loop leaves a column, Python writes it."""
    wanted = [None if e is None or iso_time(e) is None else f"{quote}{iso_time(e)}{quote}"
              for e in epochs]
    assert iso_times(epochs, quote) == wanted
    assert python_iso_times(epochs, quote) == wanted
    assert json_times(epochs) == [ONE_LINE(iso_time(e)) for e in epochs]


def test_the_compiled_loop_leaves_what_it_does_not_know_to_python() -> None:
    odd: list[list[float | None]] = [
        [1.5, math.nan], [1.5, -1.0], [1.5, float(FAST_UNTIL)], [True], [2**70],
    ]
    for column in odd:
        assert _compiled(column) is None
    assert _compiled([1.5], "''") is None  # a quote of two characters
    assert _compiled([None, 1.5], '"') == [None, '"1970-01-01T00:00:01.500000Z"']
    assert compiled_iso_times((1.5,), "", None) is None  # not a list: Python's


def test_the_compiled_times_are_built_where_ci_requires_it() -> None:
    if os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1":
        pytest.skip("AUDITOR_REQUIRE_COMPILED is not set")
    assert fastpath.BUILT
    assert times._compiled_times() is not None
