"""Frozen slotted dataclass instances made fast, for the records built once per server.

A frozen dataclass's __init__ sets each field through object.__setattr__: 2.9 us for a Location,
~4 us for a ServerEndpoint, where the values alone fill an instance in well under 1 us. A
builder (auditor/_frozen.c) stores the values straight into the slots, making what cls(*values)
makes; without the compiled module (no C compiler at install) the builder is the class itself.
Either way a builder takes every field's value, by position, in the fields' order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def _built() -> Callable[[type[Any], tuple[str, ...]], Callable[..., Any]] | None:
    try:
        from auditor._frozen import builder as compiled
    except ImportError:  # no C compiler at install: the classes build their instances
        return None
    return compiled


# Tests set it None to run the fallback.
compiled = _built()
BUILT = compiled is not None


class RecordError(TypeError):
    """A class a builder cannot be made for: building it without its __init__ would differ."""


def builder(cls: Callable[P, T]) -> Callable[P, T]:
    """What builds cls's instances from every field's value, by position: the compiled builder,
    or cls itself without it. Only for a frozen dataclass with slots directly under object,
    whose __init__ is the one dataclasses made, that takes every field and does nothing else
    (no __post_init__, no InitVar, no init=False or keyword-only field, no ClassVar): for it,
    storing the values is all cls(*values) does. Anything else is refused (RecordError)."""
    names = _fields(cls)
    if compiled is None:
        return _checked(cls, len(names))
    try:
        return compiled(cls, names)  # type: ignore[arg-type] # _fields checked it is a class
    except TypeError as error:  # the layout: the C side's own checks
        raise RecordError(str(error)) from None


def _checked(cls: Callable[P, T], count: int) -> Callable[P, T]:
    """cls itself, taking exactly what a compiled builder takes: ``count`` values, by position
    (cls alone would fill missing fields with their defaults)."""
    name = getattr(cls, "__qualname__", repr(cls))
    positional: Callable[..., T] = cls

    def build(*values: P.args, **keywords: P.kwargs) -> T:
        if keywords:
            raise TypeError(f"a builder of {name} takes its values by position only")
        if len(values) != count:
            raise TypeError(f"a builder of {name} takes {count} values, {len(values)} given")
        return positional(*values)

    return build


def _fields(cls: object) -> tuple[str, ...]:
    """cls's field names, in order, once it is checked to be a dataclass a builder can make."""
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        raise RecordError(f"{cls!r} is not a dataclass")
    if type(cls) is not type:  # a metaclass's __call__ may do more than __init__
        raise RecordError(f"{cls.__qualname__} has a metaclass")
    params = cls.__dataclass_params__  # type: ignore[attr-defined] # a dataclass has it
    if not params.frozen or not params.init:
        raise RecordError(f"{cls.__qualname__} is not frozen with an __init__")
    if cls.__bases__ != (object,):
        raise RecordError(f"{cls.__qualname__}'s base is not object")
    fields = dataclasses.fields(cls)
    names = tuple(field.name for field in fields)
    if len(fields) != len(cls.__dataclass_fields__):  # an InitVar or a ClassVar
        raise RecordError(f"{cls.__qualname__} has pseudo-fields (InitVar or ClassVar)")
    if any(not field.init or field.kw_only for field in fields):
        raise RecordError(f"{cls.__qualname__} has fields its __init__ does not take by position")
    if cls.__dict__.get("__slots__") != names:
        raise RecordError(f"{cls.__qualname__}'s slots are not its fields")
    if hasattr(cls, "__post_init__"):
        raise RecordError(f"{cls.__qualname__} has a __post_init__")
    if not _made_by_dataclasses(cls, names):
        raise RecordError(f"{cls.__qualname__}'s __init__ is not the one dataclasses made")
    return names


def _made_by_dataclasses(cls: type, names: tuple[str, ...]) -> bool:
    """Whether cls.__init__ is the one dataclasses made: compiled from its own text (exec'd,
    so from "<string>"), taking self and each field, by position or keyword."""
    code = getattr(cls.__dict__.get("__init__"), "__code__", None)
    if code is None or code.co_filename != "<string>":
        return False
    taken = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return bool(code.co_kwonlyargcount == 0 and taken == ("self", *names))
