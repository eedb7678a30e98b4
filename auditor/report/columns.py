"""A chunk's attributes a column at a time: list(map(attrgetter(name), objects)) for each name,
by the compiled loop's attribute_columns where this install has it (each name's slot found once
for a run of objects of one type and read directly), else in Python, which stays its oracle in
the tests. A JSON report reads some thirty attributes an endpoint; by attrgetter, generic getattr
was a fifth of the report's instructions at 100k servers (callgrind).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from operator import attrgetter
from typing import Any

# The compiled reader takes at most this many names at once.
MOST_NAMES = 16


def attribute_columns(objects: list[Any], names: tuple[str, ...]) -> tuple[list[Any], ...]:
    """For each name (a dotted one followed as attrgetter follows it), the list of that
    attribute of every object, in order (what attrgetter raises, when one has none). The
    compiled reader reads one object's attributes before the next object's; nothing the report
    reads runs code when read."""
    compiled = _compiled_columns()
    if compiled is None or len(names) > MOST_NAMES or any("." in name for name in names):
        return python_attribute_columns(objects, names)
    return compiled(objects, names)


@cache
def _compiled_columns() -> Callable[[list[Any], tuple[str, ...]], tuple[list[Any], ...]] | None:
    # Imported at the first chunk, not with this module: `audit history` never reads a capture.
    try:
        from auditor.capture._loop import attribute_columns as compiled
    except ImportError:  # built without a compiler, or an older build
        return None
    return compiled


def python_attribute_columns(objects: list[Any], names: tuple[str, ...]) -> tuple[list[Any], ...]:
    """attribute_columns in Python: a column a name, each by one C-level pass of attrgetter."""
    if not (isinstance(objects, list) and isinstance(names, tuple)):
        raise TypeError("attribute_columns(list, tuple)")
    return tuple(list(map(attrgetter(name), objects)) for name in names)
