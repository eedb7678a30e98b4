"""The vendors' published address ranges (data/platform_ranges.csv), looked up by address.

The file is built by scripts/build_platform_ranges.py from pinned copies of Zoom's, Microsoft
365's, Webex's and Cloudflare's published lists and Google Cloud's and AWS's customer ranges;
it is read once, on first use. A range names
the platform (or, for a shared network, the operator) whose list it is in; where ranges nest,
the most specific one answers.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RangeKind(StrEnum):
    VENDOR = "vendor"  # the platform's own published list
    CLOUD = "cloud"  # a public cloud's customer ranges: the tenant (the app) is not known


@dataclass(frozen=True, slots=True)
class PlatformRange:
    network: IPNetwork
    platform: str  # the vendor, or the cloud for RangeKind.CLOUD
    kind: RangeKind


@dataclass(frozen=True, slots=True)
class _Table:
    """Ranges of one IP version, most specific first within equal starts, sorted by start."""

    starts: tuple[int, ...]
    ranges: tuple[PlatformRange, ...]
    widest: int  # the most addresses any one range holds: bounds the backward scan


def parse_ranges(text: str) -> tuple[PlatformRange, ...]:
    """The rows of a platform_ranges.csv text; comment lines (#) and the header are skipped."""
    found = []
    for line in text.splitlines():
        if not line or line.startswith("#") or line == "network,platform,kind":
            continue
        network, platform, kind = line.split(",")
        found.append(PlatformRange(ipaddress.ip_network(network), platform, RangeKind(kind)))
    return tuple(found)


def _table(ranges: tuple[PlatformRange, ...], version: int) -> _Table:
    chosen = sorted(
        (r for r in ranges if r.network.version == version),
        key=lambda r: (int(r.network.network_address), -r.network.prefixlen),
    )
    return _Table(
        tuple(int(r.network.network_address) for r in chosen),
        tuple(chosen),
        max((r.network.num_addresses for r in chosen), default=0),
    )


@dataclass(frozen=True, slots=True)
class RangeIndex:
    v4: _Table
    v6: _Table

    @classmethod
    def of(cls, ranges: tuple[PlatformRange, ...]) -> RangeIndex:
        return cls(_table(ranges, 4), _table(ranges, 6))

    def lookup(self, address: str) -> PlatformRange | None:
        """The most specific published range holding ``address``, if any."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        table = self.v4 if ip.version == 4 else self.v6
        value = int(ip)
        best: PlatformRange | None = None
        index = bisect.bisect_right(table.starts, value) - 1
        # Ranges starting before the address may still hold it; none further back than the
        # widest range can, so the scan stops there.
        while index >= 0 and value - table.starts[index] < table.widest:
            candidate = table.ranges[index]
            if ip in candidate.network and (
                best is None or candidate.network.prefixlen > best.network.prefixlen
            ):
                best = candidate
            index -= 1
        return best


@cache
def bundled_ranges() -> RangeIndex:
    text = resources.files("auditor").joinpath("data/platform_ranges.csv").read_text("ascii")
    return RangeIndex.of(parse_ranges(text))
