"""Builders of frozen records (auditor/frozen.py, auditor/_frozen.c): what a builder makes must
be what the class's own __init__ makes, in every way a caller can tell (type, fields, ==, hash,
repr, GC tracking, references held), and still frozen; anything a builder cannot make the same
way is refused when it is registered. Run with the compiled builder and with the fallback."""

from __future__ import annotations

import dataclasses
import gc
import io
import json
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor import frozen, model
from auditor.cli import Environment, main
from auditor.frozen import RecordError, builder

# Every builder model.py registers, with its class.
REGISTERED = [
    (model.CountryAnswer, model.build_country_answer),
    (model.Location, model.build_location),
    (model.ServerEndpoint, model.build_server_endpoint),
    (model.Finding, model.build_finding),
]


def test_the_builder_is_built_where_required() -> None:
    """.ci/run exports AUDITOR_REQUIRE_COMPILED=1: a build that failed silently fails here."""
    if os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1":
        pytest.skip("AUDITOR_REQUIRE_COMPILED is not set")
    assert frozen.BUILT
    assert all(type(made).__name__ == "Builder" for _, made in REGISTERED)


# Builders made by the compiled module, or by the fallback (as without a C compiler).
PATHS = ["compiled", "fallback"]


def _builder(cls: Any, path: str) -> Callable[..., Any]:
    if path == "fallback":
        saved, frozen.compiled = frozen.compiled, None
        try:
            return builder(cls)
        finally:
            frozen.compiled = saved
    if not frozen.BUILT:
        pytest.skip("this install has no compiled builder (AUDITOR_REQUIRE_COMPILED=1 fails)")
    return builder(cls)


def _classes() -> list[type[Any]]:
    return [cls for cls, _ in REGISTERED]


# Values of any kind (a builder, like the __init__, checks no types), hashable so that hash()
# can be compared; NaN too (equal to itself only as the same object, as in both records); and
# fresh objects, whose references can be counted exactly (None's or a small int's are shared).
_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.sampled_from(list(model.Verdict) + list(model.LocationFlag)),
    st.frozensets(st.integers(), max_size=3),
    st.builds(object),
)


def _values(cls: type[Any]) -> st.SearchStrategy[tuple[object, ...]]:
    return st.tuples(*[_VALUE] * len(dataclasses.fields(cls)))


def _references(values: tuple[object, ...]) -> list[int]:
    """How many references each fresh object among values has."""
    return [sys.getrefcount(value) for value in values if type(value) is object]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cls", _classes(), ids=lambda cls: cls.__name__)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_built_record_is_the_constructed_one(
    cls: type[Any], data: st.DataObject, path: str
) -> None:
    values = data.draw(_values(cls))
    build = _builder(cls, path)
    before = _references(values)
    constructed = cls(*values)
    by_constructed = _references(values)
    del constructed
    assert _references(values) == before
    built = build(*values)
    assert _references(values) == by_constructed
    constructed = cls(*values)
    assert type(built) is cls
    names = [f.name for f in dataclasses.fields(cls)]
    assert all(getattr(built, n) is v for n, v in zip(names, values, strict=True))
    assert built == constructed
    assert hash(built) == hash(constructed)
    assert repr(built) == repr(constructed)
    assert gc.is_tracked(built) == gc.is_tracked(constructed)
    assert gc.get_referents(built) == gc.get_referents(constructed)
    assert pickle.dumps(built) == pickle.dumps(constructed)
    del built, constructed
    assert _references(values) == before


@pytest.mark.parametrize(("cls", "registered"), REGISTERED, ids=[c.__name__ for c, _ in REGISTERED])
def test_model_registers_a_builder_of_its_class(
    cls: type[Any], registered: Callable[..., Any]
) -> None:
    values = tuple(range(len(dataclasses.fields(cls))))
    made = registered(*values)
    assert type(made) is cls
    assert made == cls(*values)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cls", _classes(), ids=lambda cls: cls.__name__)
def test_a_built_record_stays_frozen(cls: type[Any], path: str) -> None:
    built = _builder(cls, path)(*range(len(dataclasses.fields(cls))))
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, first, "changed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(built, first)
    with pytest.raises(AttributeError):
        built.__dict__  # noqa: B018 - slots: no instance dict to slip values into
    assert getattr(built, first) == 0


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cls", _classes(), ids=lambda cls: cls.__name__)
def test_many_builds_leak_nothing(cls: type[Any], path: str) -> None:
    """The class and each value are held by each record and let go with it. Collected first,
    and not meanwhile: earlier tests' garbage holds records of these classes too."""
    values = tuple(object() for _ in dataclasses.fields(cls))
    build = _builder(cls, path)
    build(*values)  # anything made once (a cache) is made before counting
    gc.collect()
    gc.disable()
    try:
        before = (sys.getrefcount(cls), [sys.getrefcount(value) for value in values])
        built = [build(*values) for _ in range(10_000)]
        held = (sys.getrefcount(cls), [sys.getrefcount(value) for value in values])
        del built
        after = (sys.getrefcount(cls), [sys.getrefcount(value) for value in values])
    finally:
        gc.enable()
    assert held == (before[0] + 10_000, [n + 10_000 for n in before[1]])
    assert after == before


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cls", _classes(), ids=lambda cls: cls.__name__)
def test_wrong_value_counts_and_keywords_are_refused(cls: type[Any], path: str) -> None:
    """Too few values would leave slots empty (the class would fill in defaults); the builder
    takes all, by position."""
    build = _builder(cls, path)
    count = len(dataclasses.fields(cls))
    for wrong in (0, 1, count - 1, count + 1):
        with pytest.raises(TypeError, match=f"takes {count} values, {wrong} given"):
            build(*range(wrong))
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(TypeError, match="by position only"):
        build(*range(count - 1), **{first: 0})


# Classes no builder may make: each differs from storing its values in some way.
@dataclass(slots=True)
class _Unfrozen:
    a: int


@dataclass(frozen=True)
class _NoSlots:
    a: int


@dataclass(frozen=True, slots=True)
class _PostInit:
    a: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", self.a + 1)


@dataclass(frozen=True, slots=True)
class _WithInitVar:
    a: int
    scale: InitVar[int] = 1


@dataclass(frozen=True, slots=True)
class _WithClassVar:
    a: int
    kind: ClassVar[str] = "k"


@dataclass(frozen=True, slots=True)
class _NotInInit:
    a: int
    b: int = field(init=False, default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class _KeywordOnly:
    a: int


@dataclass(frozen=True, slots=True, weakref_slot=True)
class _WeakReferable:
    a: int


@dataclass(frozen=True, slots=True)
class _Base:
    a: int


@dataclass(frozen=True, slots=True)
class _Derived(_Base):
    b: int


@dataclass(frozen=True, slots=True, init=False)
class _OwnInit:
    a: int

    def __init__(self, a: int) -> None:
        object.__setattr__(self, "a", a * 2)


class _Plain:
    __slots__ = ("a",)


class _Meta(type):
    pass


@dataclass(frozen=True, slots=True)
class _WithMeta(metaclass=_Meta):
    a: int


@dataclass(frozen=True, slots=True)
class _Fine:
    a: int
    b: str = ""


_REFUSED = [
    _Unfrozen, _NoSlots, _PostInit, _WithInitVar, _WithClassVar, _NotInInit, _KeywordOnly,
    _WeakReferable, _Derived, _OwnInit, _Plain, int, model.Location(ip="x"), _WithMeta,
]  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cls", _REFUSED, ids=lambda cls: getattr(cls, "__name__", "instance"))
def test_registration_refuses_classes_built_otherwise(cls: Any, path: str) -> None:
    with pytest.raises(RecordError):
        _builder(cls, path)


@pytest.mark.parametrize("path", PATHS)
def test_a_class_like_the_records_is_accepted(path: str) -> None:
    """The refusals above are for what each class has, not for being a test's class."""
    assert _builder(_Fine, path)(1, "b") == _Fine(1, "b")


@pytest.mark.parametrize("path", PATHS)
def test_a_class_whose_own_init_was_kept_is_refused(path: str) -> None:
    """dataclasses keeps an __init__ the class defines itself: building by slots would skip it."""

    @dataclass(frozen=True, slots=True)
    class Doubling:
        a: int

        def __init__(self, a: int) -> None:
            object.__setattr__(self, "a", a * 2)

    with pytest.raises(RecordError, match="__init__"):
        _builder(Doubling, path)


# The compiled module checks the layout itself, whatever frozen.py asks of it: storing at a
# wrong offset would corrupt memory, not raise.
@pytest.mark.parametrize(
    ("cls", "names", "why"),
    [
        (_Fine, ("a",), "one slot per field"),
        (_Fine, ("a", "b", "a"), "one slot per field"),
        (_Fine, ("a", "a"), "share a slot"),
        (_Fine, ("a", "c"), "no slot of it"),
        (_Fine, ("a", "__init__"), "not its own slot"),
        (_Fine, ("a", 1), "not a str"),
        (_Fine, (), "no fields"),
        (_Derived, ("a", "b"), "base is not object"),
        (_Derived, ("b",), "base is not object"),
        (_WeakReferable, ("a",), "__weakref__"),
        (_NoSlots, ("a",), "__dict__"),
        (_WithMeta, ("a",), "metaclass"),
        (int, ("real",), "class statement"),
    ],
)
def test_the_compiled_module_checks_the_layout(cls: type[Any], names: tuple[Any, ...],
                                               why: str) -> None:  # fmt: skip
    if not frozen.BUILT:
        pytest.skip("this install has no compiled builder (AUDITOR_REQUIRE_COMPILED=1 fails)")
    from auditor._frozen import builder as compiled

    with pytest.raises(TypeError, match=why):
        compiled(cls, names)


def test_the_compiled_module_maps_each_field_to_its_own_slot() -> None:
    """Slots are laid out by name, not in the fields' order: each value goes to its field."""
    if not frozen.BUILT:
        pytest.skip("this install has no compiled builder (AUDITOR_REQUIRE_COMPILED=1 fails)")
    from auditor._frozen import builder as compiled

    @dataclass(frozen=True, slots=True)
    class Unsorted:
        zulu: int
        alpha: int
        mike: int

    made = compiled(Unsorted, ("zulu", "alpha", "mike"))(1, 2, 3)
    assert (made.zulu, made.alpha, made.mike) == (1, 2, 3)
    swapped = compiled(Unsorted, ("alpha", "zulu", "mike"))(1, 2, 3)
    assert (swapped.zulu, swapped.alpha) == (2, 1)


REPO = Path(__file__).resolve().parents[1]
# The modules that build records with a registered builder.
USERS = {"auditor.geo.bulk", "auditor.geo.locator", "auditor.endpoints", "auditor.policy.judge"}
DATA = REPO / "auditor" / "data"


def _report(capture: Path) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, env={"NO_COLOR": "1"}, stdout_isatty=False,
                      stderr_isatty=False)  # fmt: skip
    status = main([str(capture), "--allow", "US,EU", "--format", "json", "--workers", "1",
                   "--db", str(DATA / "auditor-country.mmdb"),
                   "--db", str(DATA / "auditor-asn.mmdb")], env)  # fmt: skip
    report = json.loads(out.getvalue())
    report.pop("generated_at", None)
    return status, report, err.getvalue()


@pytest.mark.parametrize("capture", ["demo-meeting.pcap", "demo-meeting.pcapng"])
def test_an_audit_reports_the_same_with_the_classes_building_the_records(
    capture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every module that took a registered builder gets its class instead (the fallback): the
    report, exit status and stderr stay the same."""
    if not frozen.BUILT:
        pytest.skip("this install has no compiled builder (AUDITOR_REQUIRE_COMPILED=1 fails)")
    path = REPO / "fixtures" / capture
    compiled = _report(path)
    builders = {id(made): _builder(cls, "fallback") for cls, made in REGISTERED}
    swapped = set()
    for name, module in list(sys.modules.items()):
        if name.startswith("auditor") and module is not None:
            for attribute, value in list(vars(module).items()):
                if id(value) in builders and attribute.startswith("build_"):
                    monkeypatch.setattr(module, attribute, builders[id(value)])
                    swapped.add(name)
    assert swapped >= USERS
    assert _report(path) == compiled
