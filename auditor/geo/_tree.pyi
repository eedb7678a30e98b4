from mmap import mmap

def walk(
    tree: bytes | mmap, node_count: int, record_size: int, bits: int, addresses: list[int], /
) -> tuple[list[int | None], bytes]: ...
