"""Builds the capture stage's flow records from connection metadata that is not a capture.

Every source (Zeek's conn.log, flow export, WebRTC dumps) hands its observations to one
FlowBuilder, which keys them as the capture's flow table does (the 5-tuple for TCP and UDP, the
address pair for other protocols) so that the later stages see the same records, whatever the
source.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections import Counter
from dataclasses import dataclass

from auditor.capture.taps import MAX_NAMES
from auditor.model import CaptureResult, CaptureSummary, Flow, NameSighting, NameSource
from auditor.names import MAX_NAME

TCP = 6
UDP = 17
_PORTED = (TCP, UDP)

FlowKey = tuple[int, str, int, str, int]


@functools.lru_cache(maxsize=1 << 16)
def address(text: str) -> str | None:
    """The canonical spelling of an IP address, or None when the text is not one.

    Cached: logs name the same few hosts in row after row, and parsing is the costly part.
    """
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return None


def host_name(text: str) -> str | None:
    """A server name as the capture stage keeps one: lower case, bounded, not an address."""
    name = text.strip().rstrip(".").lower()
    if not name or len(name) > MAX_NAME or address(name) is not None:
        return None
    return name


@dataclass(slots=True)
class _Open:
    """A flow being gathered: side a is the source of the earliest observation."""

    protocol: int
    a: str
    a_port: int
    b: str
    b_port: int
    packets_ab: int
    packets_ba: int
    bytes_ab: int
    bytes_ba: int
    first_seen: float
    last_seen: float
    syn_ab: bool
    syn_ba: bool

    def absorb(self, other: Flow) -> None:
        if other.a == self.a and other.a_port == self.a_port:
            pab, pba, bab, bba = other.packets_ab, other.packets_ba, other.bytes_ab, other.bytes_ba
            sab, sba = other.syn_ab, other.syn_ba
        else:
            pab, pba, bab, bba = other.packets_ba, other.packets_ab, other.bytes_ba, other.bytes_ab
            sab, sba = other.syn_ba, other.syn_ab
        self.packets_ab += pab
        self.packets_ba += pba
        self.bytes_ab += bab
        self.bytes_ba += bba
        self.syn_ab = self.syn_ab or sab
        self.syn_ba = self.syn_ba or sba
        if _earlier(other.first_seen, self.first_seen):
            self.first_seen = other.first_seen
            if other.a != self.a or other.a_port != self.a_port:
                self._flip()
        if _earlier(self.last_seen, other.last_seen):
            self.last_seen = other.last_seen

    def _flip(self) -> None:
        self.a, self.b = self.b, self.a
        self.a_port, self.b_port = self.b_port, self.a_port
        self.packets_ab, self.packets_ba = self.packets_ba, self.packets_ab
        self.bytes_ab, self.bytes_ba = self.bytes_ba, self.bytes_ab
        self.syn_ab, self.syn_ba = self.syn_ba, self.syn_ab

    def flow(self) -> Flow:
        return Flow(
            protocol=self.protocol,
            a=self.a,
            a_port=self.a_port,
            b=self.b,
            b_port=self.b_port,
            packets_ab=self.packets_ab,
            packets_ba=self.packets_ba,
            bytes_ab=self.bytes_ab,
            bytes_ba=self.bytes_ba,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            first_frame=0,  # no frames in connection metadata
            syn_ab=self.syn_ab,
            syn_ba=self.syn_ba,
        )


def _earlier(left: float, right: float) -> bool:
    """left < right, where an unknown time (NaN) is later than any known one."""
    if math.isnan(left):
        return False
    return math.isnan(right) or left < right


def flow_key(flow: Flow) -> FlowKey:
    a_port, b_port = (flow.a_port, flow.b_port) if flow.protocol in _PORTED else (0, 0)
    if (flow.a, a_port) <= (flow.b, b_port):
        return flow.protocol, flow.a, a_port, flow.b, b_port
    return flow.protocol, flow.b, b_port, flow.a, a_port


class FlowBuilder:
    """Gathers flows, names, skipped records and warnings of one input into a CaptureResult."""

    def __init__(self) -> None:
        self._flows: dict[FlowKey, _Open] = {}
        self._names: dict[NameSighting, None] = {}  # an insertion-ordered set
        self.names_dropped = False
        self.skipped: Counter[str] = Counter()
        self.warnings: list[str] = []
        self.records = 0  # records of the source that were read (rows, flow records, pairs)

    def add(self, flow: Flow) -> None:
        """One observation: a connection, a flow record in either direction, a candidate pair."""
        if flow.protocol not in _PORTED and (flow.a_port or flow.b_port):
            flow = Flow(flow.protocol, flow.a, 0, flow.b, 0, flow.packets_ab, flow.packets_ba,
                        flow.bytes_ab, flow.bytes_ba, flow.first_seen, flow.last_seen, 0)
        key = flow_key(flow)
        known = self._flows.get(key)
        if known is None:
            self._flows[key] = _Open(
                flow.protocol, flow.a, flow.a_port, flow.b, flow.b_port, flow.packets_ab,
                flow.packets_ba, flow.bytes_ab, flow.bytes_ba, flow.first_seen, flow.last_seen,
                flow.syn_ab, flow.syn_ba,
            )
        else:
            known.absorb(flow)

    def name(self, server: str, name: str, source: NameSource) -> None:
        sighting = NameSighting(server, name, source)
        if sighting in self._names:
            return
        if len(self._names) >= MAX_NAMES:
            self.names_dropped = True
            return
        self._names[sighting] = None

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def result(
        self,
        path: str,
        kind: str,
        *,
        compressed: bool,
        complete: bool,
        limits: tuple[str, ...],
        own_hosts: frozenset[str] = frozenset(),
    ) -> CaptureResult:
        flows = tuple(
            sorted((f.flow() for f in self._flows.values()), key=_time_order)
        )
        times = [t for f in flows for t in (f.first_seen, f.last_seen) if not math.isnan(t)]
        warnings = list(self.warnings)
        if self.names_dropped:
            warnings.append(f"more than {MAX_NAMES} distinct names: later ones not kept")
        summary = CaptureSummary(
            path=path,
            format=kind,
            compressed=compressed,
            link_types=(),
            packets=sum(f.packets for f in flows),
            ip_packets=sum(f.packets for f in flows),
            ip_bytes=sum(f.bytes for f in flows),
            flows=len(flows),
            skipped=dict(sorted(self.skipped.items())),
            warnings=tuple(warnings),
            complete=complete,
            first_seen=min(times) if times else None,
            last_seen=max(times) if times else None,
            limits=limits,
        )
        return CaptureResult(
            summary=summary, flows=flows, names=tuple(self._names), own_hosts=own_hosts
        )


def _time_order(flow: Flow) -> tuple[bool, float]:
    return math.isnan(flow.first_seen), 0.0 if math.isnan(flow.first_seen) else flow.first_seen
