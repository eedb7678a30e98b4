"""The CSV report: one row per endpoint and capture it was seen in, every text cell guarded
against formula injection; integer columns hold only integers, so pandas reads them as int64."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from io import StringIO
from operator import attrgetter
from typing import Any, TextIO, TypeVar

from auditor.model import (
    AuditResult,
    Finding,
    Judgement,
    Location,
    RoleClaim,
    ServerEndpoint,
    Verdict,
)
from auditor.report.escape import csv_cell
from auditor.report.interface import ReportFormat
from auditor.report.sections import in_capture
from auditor.report.times import iso_time, iso_times
from auditor.report.view import (
    location_flags,
    reason_label,
    roles_label,
    sorted_findings,
)

HEADER = (
    "capture",
    "ip",
    "verdict",
    "country",
    "registered_country",
    "represented_country",
    "city",
    "asn",
    "org",
    "address_class",
    "flags",
    "packets",
    "bytes",
    "flows",
    "ports",
    "protocols",
    "hostnames",
    "platform",
    "platform_basis",
    "roles",
    "first_seen",
    "last_seen",
    "first_frame",
    "reason",
    "basis",
)


def _text(value: str | None) -> str:
    return "" if value is None else csv_cell(value)


def _joined(values: tuple[str, ...]) -> str:
    # A space cannot appear in a port, protocol, flag or host name, so it is a safe separator.
    return csv_cell(" ".join(values)) if values else ""


Cell = str | int


def _row(finding: Finding, capture: str) -> list[Cell]:
    """One endpoint's row for one capture it was seen in, with that capture's counts."""
    endpoint = finding.endpoint
    return [
        _text(capture),
        _text(endpoint.ip),
        finding.judgement.verdict.value,
        *_place_cells(finding.location),
        endpoint.packets,
        endpoint.bytes,
        endpoint.flows,
        *_own_cells(endpoint),
        iso_time(endpoint.first_seen) or "",
        iso_time(endpoint.last_seen) or "",
        endpoint.first_frame,
        *_judged_cells(finding),
    ]


def _place_cells(location: Location) -> tuple[Cell, ...]:
    """From "country" to "flags": what the location decides."""
    return (
        _text(location.country),
        _text(location.registered_country),
        _text(location.represented_country),
        _text(location.city),
        NO_ASN if location.asn is None else location.asn,
        _text(location.org),
        _text(location.address_class),
        _joined(location_flags(location)),
    )


def _own_cells(endpoint: ServerEndpoint) -> tuple[Cell, ...]:
    """From "ports" to "roles": what many endpoints share (their ports, names, platform)."""
    return (
        _joined(endpoint.ports),
        _joined(endpoint.protocols),
        _joined(endpoint.hostnames),
        _text(endpoint.platform),
        endpoint.platform_basis or "",
        _text(roles_label(endpoint)),
    )


def _judged_cells(finding: Finding) -> tuple[Cell, ...]:
    """"reason" and "basis": what the judgement (and an acceptance) decides."""
    return csv_cell(reason_label(finding)), finding.judgement.basis or ""


class _Rows:
    """Every finding's rows in report order, the cells endpoints share (a place's, a
    judgement's, the ports and names many have) made once and reused: a row made cell by cell
    cost some thirty calls, a hundred thousand endpoints seconds."""

    def __init__(self) -> None:
        self._places: dict[tuple[object, ...], tuple[Cell, ...]] = {}
        self._own: dict[tuple[object, int], tuple[tuple[RoleClaim, ...], tuple[Cell, ...]]] = {}
        # By the judgement's identity (the judge shares one per place), held beside its cells.
        self._judged: dict[int, tuple[Judgement, tuple[Cell, ...]]] = {}
        self._captures: dict[str, str] = {}

    def of(self, findings: Sequence[Finding]) -> Iterator[list[Cell]]:
        for start in range(0, len(findings), CHUNK):
            yield from self._chunk(findings[start:start + CHUNK])

    def _chunk(self, findings: Sequence[Finding]) -> Iterator[list[Cell]]:
        endpoints = [f.endpoint for f in findings]
        firsts = iso_times([e.first_seen for e in endpoints])
        lasts = iso_times([e.last_seen for e in endpoints])
        for finding, endpoint, first, last in zip(findings, endpoints, firsts, lasts, strict=True):
            if len(endpoint.sightings) > 1:  # a row for each capture, with its own counts
                for sighting in endpoint.sightings:
                    yield _row(in_capture(finding, sighting.capture), sighting.capture)
                continue
            yield [
                self._capture(_only_capture(endpoint)),
                _text(endpoint.ip),
                _VERDICT_TEXT[finding.judgement.verdict],
                *self._place(finding.location),
                endpoint.packets,
                endpoint.bytes,
                endpoint.flows,
                *self._own_of(endpoint),
                first or "",
                last or "",
                endpoint.first_frame,
                *self._judged_of(finding),
            ]

    def _capture(self, path: str) -> str:
        text = self._captures.get(path)
        if text is None:
            text = self._captures[path] = _text(path)
        return text

    def _place(self, location: Location) -> tuple[Cell, ...]:
        key = _PLACE_FIELDS(location)
        cells = self._places.get(key)
        if cells is None:
            cells = _remember(self._places, key, _place_cells(location))
        return cells

    def _own_of(self, endpoint: ServerEndpoint) -> tuple[Cell, ...]:
        # The roles by identity (a RoleClaim hashes in Python; the roles stage shares one
        # tuple per kind of endpoint), held beside the cells so the id is never another's.
        roles = endpoint.roles
        key = (_OWN_FIELDS(endpoint), id(roles))
        held = self._own.get(key)
        if held is None:
            held = _remember(self._own, key, (roles, _own_cells(endpoint)))
        return held[1]

    def _judged_of(self, finding: Finding) -> tuple[Cell, ...]:
        if finding.acceptance is not None:  # the finding's own
            return _judged_cells(finding)
        held = self._judged.get(id(finding.judgement))
        if held is None:
            held = _remember(self._judged, id(finding.judgement),
                             (finding.judgement, _judged_cells(finding)))
        return held[1]


def _only_capture(endpoint: ServerEndpoint) -> str:
    """The one capture an endpoint was seen in (as seen_in() gives it), or ""."""
    if endpoint.sightings:
        return endpoint.sightings[0].capture
    return endpoint.captures[0] if endpoint.captures else ""


CHUNK = 2048  # findings whose times are formatted at once (times.iso_times)
_LIMIT = 20_000  # each cache starts again past this many entries: bounded memory
_PLACE_FIELDS = attrgetter(
    "country", "registered_country", "represented_country", "city", "asn", "org",
    "address_class", "is_anycast", "flags",
)
_OWN_FIELDS = attrgetter("ports", "protocols", "hostnames", "platform", "platform_basis")
_VERDICT_TEXT = {verdict: verdict.value for verdict in Verdict}
T = TypeVar("T")


def _remember(cache: dict[Any, T], key: object, value: T) -> T:
    if len(cache) >= _LIMIT:
        cache.clear()
    cache[key] = value
    return value


# AS 0 is reserved and never originates a route (RFC 7607): it stands for "no ASN known", so
# the column stays integers (an empty cell would make pandas read every ASN as a float).
NO_ASN = 0
_INTEGERS = ("asn", "packets", "bytes", "flows", "first_frame")


def _notice(kind: str, text: str) -> list[Cell]:
    row: list[Cell] = [0 if name in _INTEGERS else "" for name in HEADER]
    row[HEADER.index("verdict")] = kind
    row[HEADER.index("reason")] = csv_cell(text)
    return row


def notice_rows(result: AuditResult) -> Iterator[list[Cell]]:
    """After the endpoints, rows without an address for what is not about one endpoint: the
    "incomplete" reasons (a capture not read or not audited whole) and the warnings, so that a
    spreadsheet of a run that judged nothing, or not everything, does not read as clean."""
    for capture in result.captures:
        kind = "warning" if capture.complete else "incomplete"
        for warning in capture.warnings:
            yield _notice(kind, f"{capture.path}: {warning}")
        if not capture.complete and not capture.warnings:
            yield _notice(kind, f"{capture.path}: capture read incompletely")
    for error in result.errors:
        yield _notice("incomplete", error)
    read_whole = not result.errors and all(c.complete for c in result.captures)
    for warning in result.warnings:
        # With every capture read whole, a run is incomplete only when it saw nothing to audit,
        # which is what its warning says.
        yield _notice("warning" if result.complete or not read_whole else "incomplete", warning)


class CsvFormat(ReportFormat):
    """For spreadsheets: a header row, one row per endpoint in report order, then notices."""

    name = "csv"

    def render(self, result: AuditResult) -> str:
        buffer = StringIO()
        self.write(result, buffer)
        return buffer.getvalue()

    def write(self, result: AuditResult, stream: TextIO) -> None:
        # "\n" rather than RFC 4180's CRLF: the file is text on the platform that writes it.
        writer = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(HEADER)
        writer.writerows(_Rows().of(sorted_findings(result.findings)))
        writer.writerows(notice_rows(result))
