"""Reading captures on a Dask distributed cluster (`audit --cluster`); Dask is imported only
when a run asks for it, by ``read_on_cluster``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auditor.errors import UsageError

if TYPE_CHECKING:
    from auditor.audit import CaptureOutcome

# A task's share of a large capture: long enough that scheduling (milliseconds per task, see
# bench/README.md) is lost in the reading, short enough that a 2 GiB capture keeps 16 workers
# busy.
DEFAULT_RANGE_BYTES: Final = 128 << 20
# A task that fails (or whose worker dies) runs again, up to this many times, before its
# capture is reported unreadable.
RETRIES: Final = 2
EXTRA_HINT: Final = "--cluster needs Dask distributed: pip install 'auditor[cluster]'"

_UNITS: Final = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    address: str  # the scheduler's, e.g. tcp://SCHEDULER:8786
    range_bytes: int = DEFAULT_RANGE_BYTES  # larger uncompressed captures are read in ranges
    retries: int = RETRIES


def read_on_cluster(
    options: ClusterOptions,
    paths: tuple[str, ...],
    progress: Callable[[str, int, int], None] | None,
) -> list[CaptureOutcome]:
    """Each capture read on the cluster's workers, in the order given, as a local read gives."""
    try:
        from auditor.cluster.client import read_all
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] in ("dask", "distributed"):
            raise UsageError(EXTRA_HINT) from error
        raise
    return read_all(options, paths, progress)


def parse_size(text: str) -> int:
    """A byte count with an optional K, M or G suffix (powers of 1024): "64K", "256M"."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"not a positive size: {text!r} (examples: 65536, 64K, 256M, 1G)")
    return int(match[1]) * _UNITS[match[2].upper()]
