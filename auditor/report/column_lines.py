"""Lines made from columns: a chunk of report lines as one text, each line its parts in order,
a part being a text the same in every line or the line's own item of a column (a text, or an
int written as repr writes it). By the compiled loop's lines_text where this install has it,
else in Python, which stays its oracle in the tests.

Only concatenates: every text is made, and every outside string escaped, before it comes here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from itertools import chain, repeat

Part = str | list[str] | list[int] | list[str | int]
Parts = tuple[Part, ...]


def lines_text(opener: str, separator: str, parts: Parts) -> str:
    """The lines' text: `opener` before the first line, `separator` before every other, each
    line its parts in order; "" when the columns are empty. Every list is a column, one item a
    line (all as long: ValueError otherwise, or when there is none); an item is a str, or an
    int (exactly: a bool or a float is a TypeError) written as int.__repr__ writes it."""
    compiled = _compiled_lines()
    if compiled is None:
        return python_lines_text(opener, separator, parts)
    return compiled(opener, separator, parts)


@cache
def _compiled_lines() -> Callable[[str, str, Parts], str] | None:
    # Imported at the first chunk, not with this module: `audit history` never reads a capture.
    try:
        from auditor.capture._loop import lines_text as compiled
    except ImportError:  # built without a compiler, or an older build
        return None
    return compiled


def python_lines_text(opener: str, separator: str, parts: Parts) -> str:
    """lines_text in Python: the columns zipped, each int column written in one C-level pass."""
    if not (isinstance(opener, str) and isinstance(separator, str) and isinstance(parts, tuple)):
        raise TypeError("lines_text(str, str, tuple)")
    lengths = {len(part) for part in parts if _is_column(part)}
    if len(lengths) != 1:
        raise ValueError("the columns are not all as long" if lengths else "no column")
    (lines,) = lengths
    if not lines:
        return ""
    columns = [repeat(part, lines) if isinstance(part, str) else _texts(part) for part in parts]
    heads = chain((opener,), repeat(separator, lines - 1))
    return "".join(chain.from_iterable(zip(heads, *columns, strict=True)))


def each_line(parts: Parts) -> list[str]:
    """Each line of the parts as a text of its own (one line, or the tests: a report writes a
    text a chunk)."""
    lines = len(next(part for part in parts if isinstance(part, list)))
    return [
        lines_text("", "", tuple(part if isinstance(part, str) else [part[line]] for part in parts))
        for line in range(lines)
    ]


def _is_column(part: object) -> bool:
    if isinstance(part, str):
        return False
    if isinstance(part, list):
        return True
    raise TypeError(f"a part is a str or a list, not {type(part).__name__}")


def _texts(column: Sequence[str | int]) -> Sequence[str]:
    """The column's items as text: each str as it is, each int by int.__repr__."""
    kinds = set(map(type, column))
    if kinds <= {str}:
        return column  # type: ignore[return-value]
    if not kinds <= {str, int}:
        wrong = next(kind for kind in kinds if kind not in (str, int))
        raise TypeError(f"a line's item is a str or an int, not {wrong.__name__}")
    if kinds == {int}:
        return list(map(int.__repr__, column))
    return [item if type(item) is str else int.__repr__(item) for item in column]
