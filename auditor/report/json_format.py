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
from io import StringIO
from typing import Any, TextIO

from auditor.model import (
    AuditResult,
    CaptureSummary,
    DatabaseInfo,
    Finding,
    LocationFlag,
    Policy,
)
from auditor.report.escape import clean, clean_optional
from auditor.report.evidence_view import answer_json, evidence_json
from auditor.report.interface import ReportFormat
from auditor.report.view import build_date, flags_of, generated_at, iso_time, sorted_findings

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
    }


def endpoint_json(finding: Finding) -> JsonObject:
    endpoint, location, judgement = finding.endpoint, finding.location, finding.judgement
    return {
        "ip": clean(endpoint.ip),
        "verdict": judgement.verdict.value,
        "country": clean_optional(location.country),
        "registered_country": clean_optional(location.registered_country),
        "represented_country": clean_optional(location.represented_country),
        "city": clean_optional(location.city),
        "asn": location.asn,
        "org": clean_optional(location.org),
        "address_class": clean_optional(location.address_class),
        "anycast": location.is_anycast or LocationFlag.ANYCAST in location.flags,
        "accuracy_radius": location.accuracy_radius,
        "flags": list(flags_of(finding)),
        "answers": [answer_json(a) for a in location.answers],
        "packets": endpoint.packets,
        "bytes": endpoint.bytes,
        "flows": endpoint.flows,
        "ports": [clean(p) for p in endpoint.ports],
        "protocols": [clean(p) for p in endpoint.protocols],
        "hostnames": [clean(h) for h in endpoint.hostnames],
        "platform": clean_optional(endpoint.platform),
        "platform_basis": endpoint.platform_basis,
        "roles": [{"role": c.role.value, "evidence": clean(c.evidence)} for c in endpoint.roles],
        "server_reason": endpoint.reason.value,
        "first_seen": iso_time(endpoint.first_seen),
        "last_seen": iso_time(endpoint.last_seen),
        "first_frame": endpoint.first_frame,
        "reason": clean(judgement.reason),
        "basis": judgement.basis,
        "judged_country": judgement.judged_country,
        "evidence": evidence_json(finding),
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
    }


class JsonFormat(ReportFormat):
    """The machine-readable report: one JSON object, keys in a fixed order."""

    name = "json"
    suffixes = (".json",)

    def document(self, result: AuditResult) -> JsonObject:
        """The report as a JSON-ready dict, for callers that embed it (small results only: the
        endpoints are all in memory at once; write() streams them)."""
        head, tail = self.parts(result)
        endpoints = [endpoint_json(f) for f in sorted_findings(result.findings)]
        return {**head, "endpoints": endpoints, **tail}

    def parts(self, result: AuditResult) -> tuple[JsonObject, JsonObject]:
        """The keys before the endpoints, and those after them."""
        head = {
            "schema": SCHEMA,
            "tool": {"name": "auditor", "version": self.options.tool_version},
            "generated_at": generated_at(self.options),
            "verdict": result.verdict.value,
            "exit_status": result.exit_status,
            "complete": result.complete,
            "captures": [_capture(c) for c in result.captures],
            "databases": [_database(d) for d in result.databases],
            "policy": _policy(result.policy),
        }
        tail = {
            "summary": _summary(result),
            "warnings": [clean(w) for w in result.warnings],
            "errors": [clean(e) for e in result.errors],
            "strict_failures": [clean(s) for s in result.strict_failures],
        }
        return head, tail

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
        head, tail = self.parts(result)
        body = json.dumps(head, indent=2, ensure_ascii=False)[:-2]  # open: without "\n}"
        stream.write(body + ",\n")
        findings = sorted_findings(result.findings)
        if not findings:
            stream.write('  "endpoints": [],\n')
        else:
            stream.write('  "endpoints": [\n')
            last = len(findings) - 1
            for index, finding in enumerate(findings):
                line = _ONE_LINE(endpoint_json(finding))
                stream.write(f"    {line},\n" if index < last else f"    {line}\n")
            stream.write("  ],\n")
        stream.write(json.dumps(tail, indent=2, ensure_ascii=False)[2:] + "\n")


_ONE_LINE = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
