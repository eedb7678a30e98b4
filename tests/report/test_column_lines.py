"""Lines made from columns: the compiled loop's lines_text and the Python one each write every
line's parts in order (texts of every width, ints of any size), and refuse the same inputs."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.report import column_lines
from auditor.report.column_lines import Parts, each_line, lines_text, python_lines_text


def _compiled(opener: str, separator: str, parts: Parts) -> str:
    compiled = column_lines._compiled_lines()
    if compiled is None:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    return compiled(opener, separator, parts)


def _by_hand(opener: str, separator: str, parts: Parts) -> str:
    """The oracle: each line's parts one by one, an int by repr."""
    lines = len(next(part for part in parts if isinstance(part, list)))

    def text(part: object, line: int) -> str:
        if isinstance(part, str):
            return part
        assert isinstance(part, list)
        item = part[line]
        return item if isinstance(item, str) else repr(item)

    return "".join(
        (separator if line else opener) + "".join(text(part, line) for part in parts)
        for line in range(lines)
    )


# Texts of every width str keeps (ASCII, Latin-1, two bytes, astral), so a chunk is widened
# from any narrower part.
_TEXTS = st.text(alphabet=st.sampled_from("a\"{ \\é\xff\u0100€\uffff😀\U0010ffff"), max_size=6)
_INTS = st.integers() | st.sampled_from(
    [0, -1, 9, 10, -10, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**30, -(10**30)]
)


@st.composite
def _parts(draw: st.DrawFn) -> Parts:
    lines = draw(st.integers(0, 5))
    column = st.one_of(
        st.lists(_TEXTS, min_size=lines, max_size=lines),
        st.lists(_INTS, min_size=lines, max_size=lines),
        st.lists(_TEXTS | _INTS, min_size=lines, max_size=lines),
    )
    parts: list[str | list[str] | list[int] | list[str | int]] = draw(
        st.lists(_TEXTS | column, max_size=6)
    )
    parts.insert(draw(st.integers(0, len(parts))), draw(column))  # at least one column
    return tuple(parts)


@given(_TEXTS, _TEXTS, _parts())
@settings(deadline=None)  # a loaded machine's first call can take most of a second
def test_python_lines_are_each_line_by_hand(opener: str, separator: str, parts: Parts) -> None:
    wanted = _by_hand(opener, separator, parts) if any(
        isinstance(part, list) and part for part in parts
    ) else ""
    assert python_lines_text(opener, separator, parts) == wanted
    assert lines_text(opener, separator, parts) == wanted


@given(_TEXTS, _TEXTS, _parts())
@settings(deadline=None)  # a loaded machine's first call can take most of a second
def test_compiled_lines_are_the_python_lines(opener: str, separator: str, parts: Parts) -> None:
    compiled = _compiled(opener, separator, parts)
    python = python_lines_text(opener, separator, parts)
    assert compiled == python
    # The str's own ASCII flag (one-byte lines are written in one pass, their widest character
    # followed as they go): == compares one-byte data alike whatever the flag says.
    assert compiled.isascii() == python.isascii()


def test_compiled_lines_longer_than_the_kept_buffer() -> None:
    """One-byte lines grow the buffer kept between calls (from 64 KiB) several times, then a
    short chunk and a wide one after them are still their own."""
    long = ("é" * 70_000, "b" * 300_000)
    for parts in [
        ("{", list(long), [2**70, -1], "}"),
        ("x", ["é", "a"], [1, 2]),
        ("x", ["é", "a" * 100_000], ["\u0100", "b"]),
        ("x", ["a"], [10**30]),
    ]:
        compiled = _compiled("[", ",\n", parts)
        assert compiled == _by_hand("[", ",\n", parts)
        assert compiled.isascii() == python_lines_text("[", ",\n", parts).isascii()


@pytest.mark.parametrize(
    "parts",
    [
        ("a", ["x", "y"], [1, -2], "z"),
        ("é", ["\u0100", "a"], "😀", [2**64, -(2**63)]),  # widened twice; ints past a long long
        (["", ""], [0, 0]),
    ],
)
def test_every_line_of_a_chunk_and_each_on_its_own(parts: Parts) -> None:
    wanted = _by_hand("[", ",\n", parts)
    assert lines_text("[", ",\n", parts) == wanted
    assert _compiled("[", ",\n", parts) == wanted
    lines = each_line(parts)
    assert len(lines) == 2
    assert "[" + ",\n".join(lines) == wanted


def test_no_line_is_no_text() -> None:
    assert python_lines_text("[", ",", ("a", [], [])) == ""
    assert _compiled("[", ",", ("a", [], [])) == ""


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        (("a", [True]), TypeError),  # a bool is no int here: repr writes True, JSON true
        (([1.0],), TypeError),
        (([None],), TypeError),
        ((["a", "a", "a"], [1, "b", b"c"]), TypeError),
        (("a", ("b",), ["c"]), TypeError),  # a tuple is neither a text nor a column
        (("a", 1, ["c"]), TypeError),
        ((["a"], ["b", "c"]), ValueError),  # columns of different lengths
        ((["a"], [], ("b",)), TypeError),  # a wrong part is told before uneven columns
        (("a", "b"), ValueError),  # no column: how many lines is unknown
        ((), ValueError),
    ],
)
def test_both_refuse_the_same_parts(parts: Parts, error: type[Exception]) -> None:
    with pytest.raises(error):
        python_lines_text("[", ",", parts)
    with pytest.raises(error):
        _compiled("[", ",", parts)


def test_both_refuse_parts_not_in_a_tuple() -> None:
    with pytest.raises(TypeError):
        python_lines_text("[", ",", [["a"]])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _compiled("[", ",", [["a"]])  # type: ignore[arg-type]


def test_the_compiled_lines_are_built() -> None:
    """.ci/run exports AUDITOR_REQUIRE_COMPILED=1: a build that failed silently fails here."""
    if os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1":
        pytest.skip("AUDITOR_REQUIRE_COMPILED is not set")
    assert column_lines._compiled_lines() is not None


def test_reports_use_the_python_lines_without_the_compiled_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the compiled loop lines_text is python_lines_text's."""
    monkeypatch.setattr(column_lines, "_compiled_lines", lambda: None)
    assert lines_text("<", "|", (["a", "b"], [1, 2])) == "<a1|b2"


@pytest.mark.parametrize(("opener", "separator"), [("é", ",\n"), ("[", ",\xff"), ("[", "\u0100")])
def test_compiled_lines_as_wide_as_their_opener_or_separator(opener: str, separator: str) -> None:
    """Lines all ASCII but for the opener or the separator: the text is as wide as those."""
    parts: Parts = ("a", ["x", "y"], [1, 2])
    compiled = _compiled(opener, separator, parts)
    assert compiled == _by_hand(opener, separator, parts)
    assert compiled.isascii() is False
