"""The JSON report, schema "auditor.report/1" (every field documented in SCHEMA.md beside it).

Minimum, stable fields (more may be added; none is removed or changes meaning within /1):

    {"schema": "auditor.report/1", "verdict": "pass"|"fail"|"incomplete", "complete": bool,
     "captures": [{"path", "packets", "flows", "skipped", "warnings": [...]}],
     "databases": [{"path", "type", "build_epoch"}],
     "policy": {"allow": [...], "deny": [...]},
     "endpoints": [{"ip", "verdict", "country", "registered_country", "asn", "org", "packets",
                    "bytes", "flows", "ports", "hostnames": [...], "reason"}],
     "summary": {"endpoints", "violations", "unknown", "packets", "bytes"}}

Every string from outside the auditor goes through escape.clean: control and bidi characters
appear as visible escapes (``\\x1b``), so a consumer printing a value cannot be spoofed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from io import StringIO
from typing import Any, TextIO

from auditor.model import AuditResult, CaptureSummary, DatabaseInfo, Finding, Policy
from auditor.report.escape import clean, clean_optional
from auditor.report.evidence_view import evidence_json
from auditor.report.interface import ReportFormat
from auditor.report.json_rows import (
    EndpointLines,
    located_part,
    own_part,
    sighting_texts,
)
from auditor.report.json_spots import judged_part
from auditor.report.sections import CaptureSection, capture_sections
from auditor.report.times import iso_time
from auditor.report.view import build_date, generated_at, sorted_findings

SCHEMA = "auditor.report/1"

JsonObject = dict[str, Any]


def _capture(capture: CaptureSummary) -> JsonObject:
    return {
        "path": clean(capture.path),
        "format": clean(capture.format),
        "compressed": capture.compressed,
        "link_types": list(capture.link_types),
        "packets": capture.packets,
        "ip_packets": capture.ip_packets,
        "ip_bytes": capture.ip_bytes,
        "flows": capture.flows,
        "skipped": {clean(k): v for k, v in sorted(capture.skipped.items())},
        "skipped_packets": sum(capture.skipped.values()),
        "unjudged_packets": capture.unjudged_packets,
        "unjudged_addresses": capture.unjudged_addresses,
        "warnings": [clean(w) for w in capture.warnings],
        "complete": capture.complete,
        "first_seen": iso_time(capture.first_seen),
        "last_seen": iso_time(capture.last_seen),
        "limits": [clean(limit) for limit in capture.limits],
    }


def _section(section: CaptureSection, order: _Order) -> JsonObject:
    """A capture with its own verdict, summary and endpoints (one line each, as made)."""
    own = section.result
    return {
        **_capture(section.capture),
        "verdict": own.verdict.value,
        "summary": _summary(own),
        "endpoints": _Rows(partial(_sorted_then, sighting_texts, own.findings, order)),
    }


def sighting_json(finding: Finding) -> JsonObject:
    """A capture section's endpoint: its counts, first frame and times in that capture."""
    endpoint = finding.endpoint
    return {
        "ip": clean(endpoint.ip),
        "verdict": finding.judgement.verdict.value,
        "packets": endpoint.packets,
        "bytes": endpoint.bytes,
        "flows": endpoint.flows,
        "first_frame": endpoint.first_frame,
        "first_seen": iso_time(endpoint.first_seen),
        "last_seen": iso_time(endpoint.last_seen),
    }


def _database(database: DatabaseInfo) -> JsonObject:
    return {
        "path": clean(database.path),
        "type": clean(database.database_type),
        "build_epoch": database.build_epoch,
        "build_date": build_date(database.build_epoch),
        "ip_version": database.ip_version,
        "node_count": database.node_count,
        "description": clean(database.description),
        "attribution": clean(database.attribution),
    }


def _policy(policy: Policy) -> JsonObject:
    return {
        "allow": list(policy.allow_spec),
        "deny": list(policy.deny_spec),
        "allow_countries": sorted(policy.allow),
        "deny_countries": sorted(policy.deny),
        "strict": policy.strict,
        "judge_by": policy.judge_by.value,
        "roles": {rule.role.value: list(rule.allow_spec) for rule in policy.roles},
        "fail_on": policy.fail_on.value,
        "exceptions": [
            {"kind": e.kind.value, "match": clean(e.match), "justification": clean(e.justification),
             "expires": e.expires}
            for e in policy.exceptions
        ],
    }


def endpoint_json(finding: Finding, policy: Policy) -> JsonObject:
    """Everything about one endpoint; the report writes the same, encoded from its parts
    (json_rows.EndpointLines)."""
    return {
        "ip": clean(finding.endpoint.ip),
        "verdict": finding.judgement.verdict.value,
        **located_part(finding.location, finding),
        **own_part(finding),
        **judged_part(finding.judgement, finding, policy),
        "evidence": evidence_json(finding),
    }


ATTENTION_KEYS = ("ip", "verdict", "country", "hostnames", "platform")


def attention_json(finding: Finding) -> JsonObject:
    """endpoint_json's ATTENTION_KEYS alone (a history line's entry for an endpoint that needs
    attention), without encoding the rest: its evidence cost most of a history line."""
    endpoint = finding.endpoint
    return {
        "ip": clean(endpoint.ip),
        "verdict": finding.judgement.verdict.value,
        "country": clean_optional(finding.location.country),
        "hostnames": [clean(h) for h in endpoint.hostnames],
        "platform": clean_optional(endpoint.platform),
    }


def _summary(result: AuditResult) -> JsonObject:
    s = result.summary
    return {
        "endpoints": s.endpoints,
        "violations": s.violations,
        "unknown": s.unknown,
        "allowed": s.allowed,
        "local": s.local,
        "packets": s.packets,
        "bytes": s.bytes,
        "accepted": s.accepted,
    }


@dataclass(frozen=True, slots=True)
class _Rows:
    """A JSON array written one element per line as the elements are made (encoded):
    texts(opener, separator) gives its lines a chunk to a text, `opener` before the first line
    and `separator` before every other (json_rows.EndpointLines.texts)."""

    texts: Callable[[str, str], Iterable[str]]


class _Order:
    """sorted_findings, kept for the findings last sorted: a one-capture report lists the
    run's findings twice (its capture's section, then the endpoints), in one order."""

    def __init__(self) -> None:
        self._findings: tuple[Finding, ...] | None = None
        self._sorted: list[Finding] = []

    def of(self, findings: tuple[Finding, ...]) -> list[Finding]:
        if findings is not self._findings:
            self._findings, self._sorted = findings, sorted_findings(findings)
        return self._sorted


def _sorted_then(
    encode: Callable[[Iterable[Finding], str, str], Iterator[str]], findings: tuple[Finding, ...],
    order: _Order, opener: str, separator: str,
) -> Iterator[str]:
    """The findings' lines in report order, sorted only once written: parts() (the history
    line) builds the document without writing its endpoints."""
    yield from encode(order.of(findings), opener, separator)


class JsonFormat(ReportFormat):
    """The machine-readable report: one JSON object, keys in a fixed order."""

    name = "json"

    def document(self, result: AuditResult) -> JsonObject:
        """The report as a JSON-ready dict, for callers that embed it (small results only:
        the whole report is in memory at once; write() streams it)."""
        loaded: JsonObject = json.loads(self.render(result))
        return loaded

    def parts(self, result: AuditResult) -> tuple[JsonObject, JsonObject]:
        """The keys before the endpoints, and those after them (the history line's fields)."""
        document = self._document(result)
        keys = list(document)
        cut = keys.index("endpoints")
        return ({k: document[k] for k in keys[:cut]}, {k: document[k] for k in keys[cut + 1:]})

    def _document(self, result: AuditResult) -> JsonObject:
        order = _Order()
        return {
            "schema": SCHEMA,
            "tool": {"name": "auditor", "version": self.options.tool_version},
            "generated_at": generated_at(self.options),
            "verdict": result.verdict.value,
            "exit_status": result.exit_status,
            "complete": result.complete,
            "captures": [_section(s, order) for s in capture_sections(result)],
            "databases": [_database(d) for d in result.databases],
            "policy": _policy(result.policy),
            "endpoints": _Rows(partial(_sorted_then, EndpointLines(result.policy).texts,
                                       result.findings, order)),
            "summary": _summary(result),
            "warnings": [clean(w) for w in result.warnings],
            "errors": [clean(e) for e in result.errors],
            "strict_failures": [clean(s) for s in result.strict_failures],
        }

    def render(self, result: AuditResult) -> str:
        buffer = StringIO()
        self.write(result, buffer)
        return buffer.getvalue()

    def write(self, result: AuditResult, stream: TextIO) -> None:
        """Indented like ``json.dumps(document, indent=2)``, except that each endpoint is one
        line: written as it is made, with the C encoder, so a million endpoints take seconds
        and never sit in memory as one string.

        ensure_ascii=False keeps names such as "Zürich" readable; clean() has already removed
        every character that could act on a terminal (and JSON escapes line breaks).
        """
        _write(stream, self._document(result), 0)
        stream.write("\n")


def _streams(value: object) -> bool:
    if isinstance(value, _Rows):
        return True
    if isinstance(value, dict):
        return any(_streams(v) for v in value.values())
    if isinstance(value, list):
        return any(_streams(v) for v in value)
    return False


def _write(stream: TextIO, value: object, depth: int) -> None:
    """``value`` as json.dumps(indent=2) at this depth would write it, rows streamed."""
    pad = "  " * depth
    if isinstance(value, _Rows):
        opened = False
        for text in value.texts(f"[\n{pad}  ", f",\n{pad}  "):
            stream.write(text)
            opened = True
        stream.write(f"\n{pad}]" if opened else "[]")
    elif isinstance(value, dict) and value and _streams(value):
        for index, (key, item) in enumerate(value.items()):
            stream.write(f"{',' if index else '{'}\n{pad}  {json.dumps(key)}: ")
            _write(stream, item, depth + 1)
        stream.write(f"\n{pad}}}")
    elif isinstance(value, list) and value and _streams(value):
        for index, item in enumerate(value):
            stream.write(f"{',' if index else '['}\n{pad}  ")
            _write(stream, item, depth + 1)
        stream.write(f"\n{pad}]")
    else:
        # JSON escapes every line break inside strings: each "\n" here is between values.
        stream.write(json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + pad))

