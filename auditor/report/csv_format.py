"""The CSV report: one row per endpoint and capture it was seen in, every text cell guarded
against formula injection; integer columns hold only integers, so pandas reads them as int64."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from io import StringIO
from typing import TextIO

from auditor.model import AuditResult, Finding
from auditor.report.escape import csv_cell
from auditor.report.interface import ReportFormat
from auditor.report.sections import in_capture
from auditor.report.view import flags_of, iso_time, reason_label, roles_label, sorted_findings

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


def _rows(finding: Finding) -> Iterator[list[str | int]]:
    """The endpoint once per capture it was seen in, with that capture's counts and frames."""
    seen = finding.endpoint.seen_in()
    if len(seen) <= 1:
        yield _row(finding, seen[0].capture if seen else "")
        return
    for sighting in seen:
        yield _row(in_capture(finding, sighting.capture), sighting.capture)


def _row(finding: Finding, capture: str) -> list[str | int]:
    endpoint, location, judgement = finding.endpoint, finding.location, finding.judgement
    return [
        _text(capture),
        _text(endpoint.ip),
        judgement.verdict.value,
        _text(location.country),
        _text(location.registered_country),
        _text(location.represented_country),
        _text(location.city),
        NO_ASN if location.asn is None else location.asn,
        _text(location.org),
        _text(location.address_class),
        _joined(flags_of(finding)),
        endpoint.packets,
        endpoint.bytes,
        endpoint.flows,
        _joined(endpoint.ports),
        _joined(endpoint.protocols),
        _joined(endpoint.hostnames),
        _text(endpoint.platform),
        endpoint.platform_basis or "",
        _text(roles_label(endpoint)),
        iso_time(endpoint.first_seen) or "",
        iso_time(endpoint.last_seen) or "",
        endpoint.first_frame,
        csv_cell(reason_label(finding)),
        judgement.basis or "",
    ]


# AS 0 is reserved and never originates a route (RFC 7607): it stands for "no ASN known", so
# the column stays integers (an empty cell would make pandas read every ASN as a float).
NO_ASN = 0
_INTEGERS = ("asn", "packets", "bytes", "flows", "first_frame")


def _notice(kind: str, text: str) -> list[str | int]:
    row: list[str | int] = [0 if name in _INTEGERS else "" for name in HEADER]
    row[HEADER.index("verdict")] = kind
    row[HEADER.index("reason")] = csv_cell(text)
    return row


def notice_rows(result: AuditResult) -> Iterator[list[str | int]]:
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
        for finding in sorted_findings(result.findings):
            writer.writerows(_rows(finding))
        writer.writerows(notice_rows(result))
