"""The CSV report: one row per endpoint, every text cell guarded against formula injection."""

from __future__ import annotations

import csv
from io import StringIO

from auditor.model import AuditResult, Finding
from auditor.report.escape import csv_cell
from auditor.report.interface import ReportFormat
from auditor.report.view import flags_of, iso_time, sorted_findings

HEADER = (
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


def _row(finding: Finding) -> list[str | int]:
    endpoint, location, judgement = finding.endpoint, finding.location, finding.judgement
    return [
        _text(endpoint.ip),
        judgement.verdict.value,
        _text(location.country),
        _text(location.registered_country),
        _text(location.represented_country),
        _text(location.city),
        "" if location.asn is None else location.asn,
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
        iso_time(endpoint.first_seen) or "",
        iso_time(endpoint.last_seen) or "",
        endpoint.first_frame,
        _text(judgement.reason),
        judgement.basis or "",
    ]


class CsvFormat(ReportFormat):
    """For spreadsheets: a header row, then one row per endpoint in report order."""

    name = "csv"
    suffixes = (".csv",)

    def render(self, result: AuditResult) -> str:
        buffer = StringIO()
        # "\n" rather than RFC 4180's CRLF: the file is text on the platform that writes it.
        writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(HEADER)
        writer.writerows(_row(f) for f in sorted_findings(result.findings))
        return buffer.getvalue()
