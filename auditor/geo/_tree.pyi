from collections.abc import Sequence
from mmap import mmap
from typing import TypeVar

T = TypeVar("T")

def walk(
    tree: bytes | mmap, node_count: int, record_size: int, bits: int, addresses: list[int], /
) -> tuple[list[int | None], bytes]: ...
def group(columns: list[list[object]], /) -> tuple[list[int], list[int]]: ...
def segment_items(starts: Sequence[int], items: list[T], values: list[int], /) -> list[T]: ...
