"""What must hold however broken a capture is: the checks shared by the fuzz run and the tests."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass

import auditor.capture
from auditor.capture import _read, read_capture
from auditor.errors import CaptureError
from auditor.model import CaptureResult, Flow

PCAP_RECORD_MIN = 16  # a record header with no data
PCAPNG_PACKET_BLOCK_MIN = 16  # a simple packet block with no data


class FindingError(AssertionError):
    """The reader broke a promise: an escaped exception, a bad count, or paths disagreeing."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one read gave: a result, or the one-line error of a file that cannot be read."""

    result: CaptureResult | None
    error: str | None


def read_outcome(path: str, *, fast: bool = True, workers: int = 1) -> Outcome:
    """Read ``path``; anything but a result or a plain CaptureError is a finding."""
    try:
        if fast:
            result = read_capture(path, workers=workers)
        else:
            result = _read(path, workers=workers, progress=None, fast=False)
    except CaptureError as error:
        cause = error.__cause__
        if cause is not None and not isinstance(cause, OSError):
            # read_capture turns its own bugs into CaptureError so users see one line; here
            # such a wrapped bug is exactly what the fuzzing looks for.
            raise FindingError(f"internal error wrapped as CaptureError: {error}") from cause
        if "internal error" in str(error):
            raise FindingError(f"internal error reported: {error}") from error
        return Outcome(None, str(error))
    except Exception as error:
        raise FindingError(f"{type(error).__name__} escaped the reader: {error}") from error
    return Outcome(result, None)


def check(path: str, *, size: int | None = None, parallel: bool = False) -> Outcome:
    """Read ``path`` by every path the reader has and check the result's invariants."""
    if size is None:
        size = os.path.getsize(path)
    outcome = read_outcome(path)
    slow = read_outcome(path, fast=False)
    if slow != outcome:
        raise FindingError(f"fast path and general path disagree:\n{outcome}\n{slow}")
    if parallel:
        with parallel_on_small_files():
            split = read_outcome(path, workers=2)
        if split != outcome:
            raise FindingError(f"two workers and one disagree:\n{outcome}\n{split}")
    if outcome.result is not None:
        check_result(outcome.result, size)
    return outcome


@contextlib.contextmanager
def parallel_on_small_files() -> Iterator[None]:
    saved = auditor.capture.PARALLEL_MIN_BYTES
    auditor.capture.PARALLEL_MIN_BYTES = 0
    try:
        yield
    finally:
        auditor.capture.PARALLEL_MIN_BYTES = saved


def check_result(result: CaptureResult, size: int) -> None:
    """Counts that add up, and never more than a file of ``size`` bytes could hold."""
    summary = result.summary
    problems = []
    # Every record is either counted into a flow or counted as skipped, never both or neither.
    skipped = sum(summary.skipped.values())
    if summary.packets != summary.ip_packets + skipped:
        problems.append(
            f"packets {summary.packets} != ip packets {summary.ip_packets} + skipped {skipped}"
        )
    if summary.ip_packets != sum(flow.packets for flow in result.flows):
        problems.append("ip_packets is not the sum of the flows' packets")
    if summary.ip_bytes != sum(flow.bytes for flow in result.flows):
        problems.append("ip_bytes is not the sum of the flows' bytes")
    if len(result.flows) > summary.ip_packets:
        problems.append(f"{len(result.flows)} flows from {summary.ip_packets} packets")
    smallest = PCAP_RECORD_MIN if summary.format == "pcap" else PCAPNG_PACKET_BLOCK_MIN
    most = size // smallest
    if summary.compressed:
        most = max(most, 1) * 1100  # deflate's best ratio is about 1032:1
    if summary.packets > most:
        problems.append(f"{summary.packets} packets from a {size}-byte file")
    if not summary.complete and not summary.warnings:
        problems.append("incomplete read without a warning")
    frames = [flow.first_frame for flow in result.flows]
    if frames != sorted(frames) or any(not 1 <= f <= summary.packets for f in frames):
        problems.append("flow first frames out of order or out of range")
    problems.extend(_flow_problems(flow) for flow in result.flows if _flow_problems(flow))
    if problems:
        raise FindingError("; ".join(problems))


def _flow_problems(flow: Flow) -> str:
    wrong = []
    for address in (flow.a, flow.b):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            wrong.append(f"address {address!r}")
    if not (0 <= flow.a_port <= 65535 and 0 <= flow.b_port <= 65535):
        wrong.append("port out of range")
    if flow.packets_ab < 1 or flow.packets_ba < 0 or flow.bytes_ab < 0 or flow.bytes_ba < 0:
        wrong.append("negative or empty counts")
    if not flow.first_seen <= flow.last_seen:
        wrong.append(f"first seen {flow.first_seen} after last seen {flow.last_seen}")
    return f"flow {flow}: {', '.join(wrong)}" if wrong else ""


def flow_key(flow: Flow) -> tuple[int, str, int, str, int]:
    return (flow.protocol, flow.a, flow.a_port, flow.b, flow.b_port)


def lost_flows(before: CaptureResult, after: CaptureResult) -> list[str]:
    """Flows of ``before`` that ``after`` (read from a longer or later-damaged file) lost."""
    found = {flow_key(flow): flow for flow in after.flows}
    lost = []
    for flow in before.flows:
        other = found.get(flow_key(flow))
        if (
            other is None
            or other.packets_ab < flow.packets_ab
            or other.packets_ba < flow.packets_ba
            or other.bytes < flow.bytes
            or other.first_frame != flow.first_frame
        ):
            lost.append(f"{flow} -> {other}")
    return lost
