"""Frozen slotted dataclass instances built without their __init__ (auditor/_frozen.c), for
auditor/frozen.py, which checks the dataclass side before asking for a builder."""

from collections.abc import Callable
from typing import Any

def builder(cls: type[Any], names: tuple[str, ...], /) -> Callable[..., Any]: ...
