"""bulk.group (auditor/geo/_tree.c): rows alike by the identities of their items, each row's
group numbered in the order first met, against its Python oracle, bulk.group_in_python."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.geo import bulk

compiled = None if bulk.group is bulk.group_in_python else bulk.group
pytestmark = pytest.mark.skipif(
    compiled is None and os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1",
    reason="this install has no compiled group (AUDITOR_REQUIRE_COMPILED=1 fails)",
)

# A few objects per column, some equal but not identical (two 1000s, two "ab"s, two tuples):
# identity, not equality, tells rows apart.
_POOL = [None, 1000, int("1000"), "ab", "".join(["a", "b"]), (1, 2), tuple(range(1, 3)), 0.0, -0.0]


def test_the_group_is_built_where_required() -> None:
    """.ci/run exports AUDITOR_REQUIRE_COMPILED=1: a build that failed silently fails here."""
    assert compiled is not None


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(0, len(_POOL) - 1), min_size=width, max_size=width),
            max_size=60,
        ).map(lambda rows: (width, rows))
    )
)
def test_compiled_groups_as_the_oracle(shape: tuple[int, list[list[int]]]) -> None:
    width, rows = shape
    columns: list[list[object]] = [[_POOL[row[c]] for row in rows] for c in range(width)]
    assert compiled is not None
    firsts, index = compiled(columns)
    assert (firsts, index) == bulk.group_in_python(columns)
    # And what the oracle promises, on its own: rows of one group hold the same objects.
    for row, number in enumerate(index):
        first = firsts[number]
        assert first <= row
        assert all(column[first] is column[row] for column in columns)
    assert firsts == sorted(firsts)
    assert len(set(index)) == len(firsts)


def test_rows_alike_but_in_the_last_column_are_apart() -> None:
    shared, one, other = object(), object(), object()
    columns = [[shared] * 4, [one, other, one, other]]
    assert compiled is not None
    assert compiled(columns) == ([0, 1], [0, 1, 0, 1]) == bulk.group_in_python(columns)


def test_many_rows_group_as_the_oracle() -> None:
    """Past the table's first sizes, with most rows in groups met before."""
    objects = [object() for _ in range(5000)]
    columns: list[list[object]] = [
        [objects[(row * 7) % 3000] for row in range(40_000)],
        [objects[(row * 13) % 4999] for row in range(40_000)],
    ]
    assert compiled is not None
    assert compiled(columns) == bulk.group_in_python(columns)


def test_what_is_no_list_of_lists_of_one_length_is_refused() -> None:
    assert compiled is not None
    for columns, error in (
        ([], TypeError),
        ((["a"],), TypeError),
        ([("a",)], TypeError),
        ([["a"], ["a", "b"]], ValueError),
    ):
        with pytest.raises(error):
            compiled(columns)  # type: ignore[arg-type] # refused, as said
    assert compiled([[]]) == ([], []) == bulk.group_in_python([[]])
