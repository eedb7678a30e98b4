"""The capture stage: read a pcap or pcapng file (maybe gzipped) into flows and a summary."""

from __future__ import annotations

import os
from collections.abc import Callable

from auditor.capture import limits
from auditor.capture.flowtable import FlowTable
from auditor.capture.formats import opened
from auditor.capture.source import CHUNK
from auditor.capture.taps import MAX_NAMES
from auditor.errors import read_guarded
from auditor.model import CaptureResult, CaptureSummary

__all__ = ["read_capture"]

PARALLEL_MIN_BYTES = 8 * CHUNK  # below this, starting processes costs more than it saves


def read_capture(
    path: str | os.PathLike[str],
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> CaptureResult:
    """Read every packet record of a capture into bidirectional flows.

    Raises CaptureError when the file cannot be read at all. A file damaged part-way is read up
    to the damage and comes back with ``summary.complete`` False and a warning naming the offset.
    """
    name = os.fspath(path)
    return read_guarded(name, lambda: _read(name, workers=workers, progress=progress, fast=True))


def _read(
    name: str,
    *,
    workers: int,
    progress: Callable[[int, int], None] | None,
    fast: bool,
) -> CaptureResult:
    with opened(name, progress) as (src, head, fmt):
        merged = None
        if workers > 1 and not src.compressed and src.total >= PARALLEL_MIN_BYTES:
            from auditor.capture.parallel import read_parallel

            merged = read_parallel(name, fmt, workers, progress, fast=fast)
        if merged is None:  # one pass: not worth splitting, or more flows than a share
            ft = FlowTable()
            complete = fmt.reader(src, ft, None, fast=fast).run(head[fmt.first_record :])
        else:
            ft, complete = merged
        compressed, total = src.compressed, src.total
    if progress is not None:
        progress(total, total)
    return _result(name, fmt.name, compressed, ft, complete)


UNJUDGED = "flow and address-pair tables full (unjudged)"  # a skipped reason


def _result(name: str, fmt: str, compressed: bool, ft: FlowTable, complete: bool) -> CaptureResult:
    first, last = ft.time_span()  # before to_flows, which empties the table
    names = ft.names()
    spilled = ft.spill.size
    signalled = tuple(ft.signalled)
    flows = ft.to_flows()
    ip_packets, ip_bytes = flows.totals()
    # A tunnel's inner packets are flows of their own; the summary counts the records.
    ip_packets, ip_bytes = ip_packets - ft.inner_packets, ip_bytes - ft.inner_bytes
    unjudged = ft.spill.unjudged_packets
    skipped = dict(ft.skipped)
    if unjudged:
        skipped[UNJUDGED] = unjudged
    warnings = [*ft.warnings, *_spill_warnings(ft, spilled), *_names_warning(ft),
                *_inner_warnings(ft)]  # fmt: skip
    summary = CaptureSummary(
        path=name,
        format=fmt,
        compressed=compressed,
        link_types=tuple(ft.link_types),
        packets=ft.frames,
        ip_packets=ip_packets,
        ip_bytes=ip_bytes,
        flows=len(flows),
        skipped=dict(sorted(skipped.items())),
        warnings=tuple(warnings),
        complete=complete and not unjudged,  # a server never judged: not audited whole
        first_seen=first,
        last_seen=last,
        unjudged_packets=unjudged,
        unjudged_addresses=ft.unjudged_addresses,
        tunnelled_packets=ft.inner_packets,
    )
    return CaptureResult(summary=summary, flows=flows, names=names, signalled=signalled)


def _inner_warnings(ft: FlowTable) -> list[str]:
    """Packets inside tunnels that could not be decoded: their outer packets were counted."""
    return [f"{count} packets {reason}" for reason, count in sorted(ft.inner_skipped.items())]


def _spill_warnings(ft: FlowTable, spilled: int) -> list[str]:
    warnings = []
    if spilled or ft.spill.unjudged_packets:
        warnings.append(
            f"more than {ft.max_flows} flows: later new conversations were counted per address "
            f"pair ({spilled}, with the ports of each pair's first packet)"
        )
    if ft.spill.unjudged_packets:
        some = "at least " if len(ft.spill.unjudged) >= limits.MAX_UNJUDGED_ADDRESSES else ""
        warnings.append(
            f"more than {ft.spill.max_pairs} address pairs as well: "
            f"{ft.spill.unjudged_packets} packets went unjudged, to or from {some}"
            f"{ft.unjudged_addresses} addresses seen in no judged flow; the audit is incomplete"
        )
    return warnings


def _names_warning(ft: FlowTable) -> tuple[str, ...]:
    if not ft.names_dropped:
        return ()
    return (f"more than {MAX_NAMES} distinct names (DNS answers, TLS SNI): later ones not kept",)
