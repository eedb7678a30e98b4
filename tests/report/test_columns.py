"""A chunk's attributes a column at a time: the compiled loop's attribute_columns reads what
attrgetter reads (slots of frozen dataclasses directly, anything else by getattr), the same
objects, the same errors, for objects of many types mixed in one list."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.report import columns
from auditor.report.columns import attribute_columns, python_attribute_columns


@dataclass(frozen=True, slots=True)
class _Slotted:
    a: object
    b: object = None


@dataclass(frozen=True, slots=True)
class _Child(_Slotted):
    c: object = "c"


class _Shadowed(_Slotted):
    """A subclass whose `a` is a property over the parent's slot: generic getattr runs it."""

    @property
    def a(self) -> object:
        return ("shadowed", object.__getattribute__(self, "b"))


def _shadowed(a: object, b: object) -> _Shadowed:
    """A _Shadowed with both parent slots set (its own __init__ would set the property)."""
    made = object.__new__(_Shadowed)
    for name, value in (("a", a), ("b", b)):
        _Slotted.__dict__[name].__set__(made, value)
    return made


class _Plain:
    """No slots: attributes in the instance's dict, and a class attribute."""

    b = "class b"

    def __init__(self, a: object) -> None:
        self.a = a


class _Hooked:
    """Its own __getattr__: asked for what it has not."""

    __slots__ = ("a",)

    def __init__(self, a: object) -> None:
        self.a = a

    def __getattr__(self, name: str) -> object:
        if name == "b":
            return ("hooked", name)
        raise AttributeError(name)


class _Intercepting(_Slotted):
    """Its own __getattribute__, over the slots it inherits."""

    def __getattribute__(self, name: str) -> object:
        if name == "a":
            return ("intercepted", object.__getattribute__(self, "b"))
        return object.__getattribute__(self, name)


class _Borrowed:
    """Another class's slot descriptor as its own attribute: getattr refuses it (TypeError),
    where reading at the descriptor's offset would read this object's own slot."""

    __slots__ = ("x", "y")
    a = _Slotted.__dict__["a"]

    def __init__(self, x: object) -> None:
        self.x = self.y = x


class _Empty:
    """A slot never set: reading it raises AttributeError."""

    __slots__ = ("a", "b")


def _compiled(objects: list[Any], names: tuple[str, ...]) -> tuple[list[Any], ...]:
    compiled = columns._compiled_columns()
    if compiled is None:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")
    return compiled(objects, names)


def _outcome(read: Any, objects: list[Any], names: tuple[str, ...]) -> object:
    """The columns, or the error's type and text (a property or __getattr__ may make a new
    object each time it is asked: items compare by ==; test_slots_read_directly... holds the
    slots' items to be the very objects)."""
    try:
        got = read(objects, names)
    except (AttributeError, TypeError, ValueError) as error:
        return type(error), str(error)
    return [list(column) for column in got]


_VALUES = st.sampled_from([None, 1, "x", (), ("t",), 2**70, 1.5])
_OBJECTS = st.one_of(
    st.builds(_Slotted, _VALUES, _VALUES),
    st.builds(_Child, _VALUES, _VALUES, _VALUES),
    st.builds(_shadowed, _VALUES, _VALUES),
    st.builds(_Plain, _VALUES),
    st.builds(_Hooked, _VALUES),
    st.builds(_Intercepting, _VALUES, _VALUES),
    st.builds(_Borrowed, _VALUES),
    st.just(_Empty()),
    _VALUES,  # ints, strs, tuples: none has these attributes but what their type has
)
_NAMES = st.lists(st.sampled_from(["a", "b", "c", "real", "count", "__class__", "__doc__"]),
                  max_size=5).map(tuple)


@given(st.lists(_OBJECTS, max_size=8), _NAMES)
@settings(max_examples=300, deadline=None)
def test_compiled_columns_are_attrgetters(objects: list[Any], names: tuple[str, ...]) -> None:
    """The same items or the same error as attrgetter, a column a name; objects
    read in another order only where no error is raised (the compiled reads by object)."""
    python = _outcome(python_attribute_columns, objects, names)
    compiled = _outcome(_compiled, objects, names)
    if isinstance(python, tuple):
        # Python meets the first error of the first failing name, the compiled reader the
        # first of the first failing object: the error one of the names raises alone.
        assert isinstance(compiled, tuple)
        alone = [_outcome(python_attribute_columns, objects, (name,)) for name in names]
        assert compiled in alone
    else:
        assert compiled == python


def test_slots_read_directly_are_the_objects_held() -> None:
    """Frozen slotted dataclasses of two types, interleaved: each item the very object held."""
    held = [object() for _ in range(6)]
    objects: list[Any] = [_Slotted(held[0], held[1]), _Child(held[2], held[3], held[4]),
                          _Slotted(held[5])]  # fmt: skip
    got = _compiled(objects, ("a", "b"))
    assert [list(map(id, column)) for column in got] == [
        [id(held[0]), id(held[2]), id(held[5])],
        [id(held[1]), id(held[3]), id(None)],
    ]
    assert _compiled(objects[1:2], ("c",))[0][0] is held[4]


def test_a_property_over_a_slot_is_run() -> None:
    got = _compiled([_Slotted(1, 2), _shadowed(3, 4), _Slotted(5, 6)], ("a",))
    assert got == ([1, ("shadowed", 4), 5],)


def test_a_class_of_its_own_getattribute_or_a_borrowed_slot_is_asked() -> None:
    got = _compiled([_Slotted(1, 2), _Intercepting(3, 4), _Slotted(5, 6)], ("a",))
    assert got == ([1, ("intercepted", 4), 5],)
    with pytest.raises(TypeError):
        _compiled([_Slotted(1, 2), _Borrowed(3)], ("a",))


def test_an_empty_slot_raises_as_getattr_does() -> None:
    with pytest.raises(AttributeError) as compiled:
        _compiled([_Slotted(1), _Empty()], ("a",))
    with pytest.raises(AttributeError) as python:
        python_attribute_columns([_Slotted(1), _Empty()], ("a",))
    assert str(compiled.value) == str(python.value)


def test_dotted_names_and_many_names_are_followed_in_python() -> None:
    """attrgetter follows "a.b"; the compiled reader refuses it (and more than 16 names), and
    attribute_columns then reads in Python."""
    objects = [_Slotted(_Slotted("inner"))]
    with pytest.raises(ValueError, match="dotted"):
        _compiled(objects, ("a.a",))
    with pytest.raises(ValueError, match="16"):
        _compiled(objects, ("a",) * 17)
    assert attribute_columns(objects, ("a.a",)) == (["inner"],)
    assert len(attribute_columns(objects, ("a",) * 17)) == 17


def test_both_refuse_what_is_not_a_list_and_a_tuple() -> None:
    for objects, names in [((_Slotted(1),), ("a",)), ([_Slotted(1)], ["a"]), ([_Slotted(1)], (1,))]:
        with pytest.raises(TypeError):
            _compiled(objects, names)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            python_attribute_columns(objects, names)  # type: ignore[arg-type]


def test_the_compiled_columns_are_built() -> None:
    """.ci/run exports AUDITOR_REQUIRE_COMPILED=1: a build that failed silently fails here."""
    if os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1":
        pytest.skip("AUDITOR_REQUIRE_COMPILED is not set")
    assert columns._compiled_columns() is not None


def test_reports_read_in_python_without_the_compiled_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns, "_compiled_columns", lambda: None)
    assert attribute_columns([_Slotted(1, 2), _Plain(3)], ("a", "b")) == ([1, 3], [2, "class b"])
