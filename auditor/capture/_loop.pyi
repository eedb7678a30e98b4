"""The compiled packet loops (auditor/capture/_loop.c): pcap.py and pcapng.py run them when
this install has them, and their own Python loops otherwise, with the same results.

``into.add`` must be the flow table's add_untabled: its common cases (a tapped direction's
packet short of a budget, a new direction with room) are done in C, as it does them."""

from collections.abc import Callable, Container, Iterable
from mmap import mmap
from typing import Any, TypeVar

from auditor.capture.columns import Row
from auditor.capture.fastpath import Decode, Directions
from auditor.capture.flowtable import FlowTable
from auditor.capture.packed import Rows
from auditor.capture.records import Record

def pcap_records(
    buf: bytearray,
    pos: int,
    n: int,
    frame: int,
    little: bool,
    nano: bool,
    ft: FlowTable,
    into: Directions,
    decode: Decode,
    /,
) -> tuple[int, int]:
    """pcap.py's fast loop over the Ethernet records of ``buf[pos:n]``: where it stopped, and
    the last frame number it gave."""

def epb_records(
    buf: bytearray,
    pos: int,
    n: int,
    frame: int,
    t: float,
    little: bool,
    interfaces: int,
    div: float,
    ft: FlowTable,
    into: Directions,
    decode: Decode,
    /,
) -> tuple[int, int, float]:
    """pcapng.py's fast loop over option-less EPBs on the first ``interfaces`` interfaces (all
    Ethernet, with one time divisor ``div``): where it stopped, the last frame number and the
    last packet's time (``t`` when it read none)."""

def udp_payload_kind(payload: bytes | bytearray, /) -> int:
    """roles.payload_kind(17, payload) as the compiled loop computes it, to decide whether
    FlowTable.look would act on a packet (for the tests)."""

def pair_rows(
    keys: list[bytes],
    rkeys: list[bytes],
    recs: list[Record | None],
    later: list[Record | None],
    partner: list[int | None],
    /,
) -> Rows:
    """packed.pair_rows, compiled: the same four columns, the same objects in them."""

def pack_rows(
    pack: Callable[..., bytes],
    size: int,
    keys: list[bytes],
    recs: list[Record],
    others: list[Record],
    answers: Iterable[bool],
    kinds: Iterable[int],
    stun_delays: Iterable[float],
    stun_samples: Iterable[int],
    acks: Iterable[float],
    no_delay: float,
    /,
) -> bytes:
    """Packed.add_rows's rows, compiled: pack(...) of each row (``size`` bytes), joined."""

def tally_rows(
    rows: Iterable[Row],
    proto: int,
    name: str,
    keys: dict[Any, Any] | None,
    hosts: Container[Any],
    is_local: Callable[[Any], bool],
    service: frozenset[int] | set[int],
    tallies: dict[Any, Any],
    tally: Callable[[Any], Any],
    /,
) -> None:
    """endpoints._tally_rows, compiled: each row's server side added to ``tallies``."""

_N = TypeVar("_N")

def iso_times(epochs: list[float | None], quote: str, none: _N, /) -> list[str | _N] | None:
    """report.times.iso_times(epochs, quote) with ``none`` for each None; None (the caller's own
    path) when an epoch is not a float or an int in iso_time's fast range, or ``quote`` is not
    empty or one ASCII character."""

def lines_text(
    opener: str, separator: str, parts: tuple[str | list[str] | list[int] | list[str | int], ...], /
) -> str:
    """report.column_lines.python_lines_text, compiled: the lines' text, ``opener`` before the
    first line and ``separator`` before every other, each line its parts in order (a str the
    same in every line, or the line's item of a list: a str, or an exact int written as
    int.__repr__ writes it)."""

def trip_rows(
    data: bytes | bytearray | mmap,
    width: int,
    count: int,
    proto: int,
    hosts: set[Any] | frozenset[Any],
    capture_start: float | None,
    guard: float,
    kinds: tuple[Any, Any, Any, Any, Any],
    found: dict[Any, list[float]],
    /,
) -> None:
    """roundtrips._trip_rows, compiled, on the first ``count`` packed rows of ``data``: each
    timed row's delays into ``found``, without making the row."""

def ipv4_texts(raws: list[bytes], /) -> list[str]:
    """socket.inet_ntop(AF_INET, raw) of each 4-byte address (columns.Texts.texts's IPv4)."""

def attribute_columns(objects: list[Any], names: tuple[str, ...], /) -> tuple[list[Any], ...]:
    """report.columns.python_attribute_columns, compiled: for each name (at most 16), the list of
    that attribute of every object, each object's attributes read before the next's."""
