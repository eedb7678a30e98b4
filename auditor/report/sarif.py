"""The SARIF 2.1.0 report for code-scanning hosts: one result per violation or unknown endpoint."""

from __future__ import annotations

import json
import os
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from auditor.model import AuditResult, CaptureSummary, Finding, Verdict
from auditor.report.escape import clean, clean_optional
from auditor.report.interface import ReportFormat
from auditor.report.view import attention, network_label, place_label

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"

JsonObject = dict[str, Any]

# (id, name, short description, default level): ids are stable, never reused.
RULES: tuple[tuple[str, str, str, str], ...] = (
    (
        "AUDITOR001",
        "EndpointOutsideAllowedJurisdictions",
        "endpoint outside allowed jurisdictions",
        "error",
    ),
    ("AUDITOR002", "EndpointLocationUnknown", "endpoint location unknown or uncertain", "warning"),
    ("AUDITOR003", "CaptureIncomplete", "capture could not be read to the end", "error"),
    ("AUDITOR004", "StrictCheckFailed", "a --strict check failed", "error"),
)
RULE_INDEX = {rule[0]: index for index, rule in enumerate(RULES)}
VIOLATION, UNKNOWN, INCOMPLETE, STRICT = (rule[0] for rule in RULES)


def artifact_uri(path: str) -> str:
    """A URI reference for a capture path; bytes are percent-encoded, so nothing is lost."""
    raw = os.fsencode(path)
    if raw.startswith(b"/"):
        return "file://" + quote(raw, safe="/")
    return quote(raw, safe="/")


def _rules() -> list[JsonObject]:
    return [
        {
            "id": rule_id,
            "name": name,
            "shortDescription": {"text": short},
            "fullDescription": {"text": f"{short[0].upper()}{short[1:]}."},
            "defaultConfiguration": {"level": level},
        }
        for rule_id, name, short, level in RULES
    ]


def _locations(captures: tuple[CaptureSummary, ...], frame: int | None) -> list[JsonObject]:
    # An endpoint does not record which capture it came from: with one capture the frame
    # number points into it; with several, every capture is listed and the frame is a hint.
    locations = []
    for index, capture in enumerate(captures):
        location: JsonObject = {
            "physicalLocation": {
                "artifactLocation": {"uri": artifact_uri(capture.path), "index": index}
            },
        }
        if frame is not None and len(captures) == 1:
            location["properties"] = {"frame": frame}
        locations.append(location)
    return locations


def _result(rule_id: str, text: str, locations: list[JsonObject]) -> JsonObject:
    return {
        "ruleId": rule_id,
        "ruleIndex": RULE_INDEX[rule_id],
        "level": RULES[RULE_INDEX[rule_id]][3],
        "message": {"text": text},
        "locations": locations,
    }


def _finding_result(finding: Finding, captures: tuple[CaptureSummary, ...]) -> JsonObject:
    endpoint, location, judgement = finding.endpoint, finding.location, finding.judgement
    rule_id = VIOLATION if judgement.verdict is Verdict.VIOLATION else UNKNOWN
    where = "; ".join(p for p in (place_label(location), network_label(location)) if p)
    text = f"{clean(endpoint.ip)}"
    text += f" ({where})" if where else ""
    text += f": {clean(judgement.reason)}"
    # Flow logs, flow export and WebRTC dumps have no frames: frame 0 points nowhere.
    frame = endpoint.first_frame or None
    if frame is not None:
        text += f"; first seen at frame {frame}"
    result = _result(rule_id, text, _locations(captures, frame))
    result["partialFingerprints"] = {"endpoint/v1": f"{rule_id}:{clean(endpoint.ip)}"}
    result["properties"] = {
        "ip": clean(endpoint.ip),
        "verdict": judgement.verdict.value,
        "country": clean_optional(location.country),
        "registeredCountry": clean_optional(location.registered_country),
        "asn": location.asn,
        "org": clean_optional(location.org),
        "packets": endpoint.packets,
        "bytes": endpoint.bytes,
        "ports": [clean(p) for p in endpoint.ports],
        "hostnames": [clean(h) for h in endpoint.hostnames],
        "platform": clean_optional(endpoint.platform),
        "platformBasis": endpoint.platform_basis,
        "roles": [{"role": c.role.value, "evidence": clean(c.evidence)} for c in endpoint.roles],
        "firstFrame": endpoint.first_frame,
    }
    return result


def _other_results(result: AuditResult) -> list[JsonObject]:
    results = []
    for index, capture in enumerate(result.captures):
        if not capture.complete:
            text = "; ".join(clean(w) for w in capture.warnings) or "capture read incompletely"
            loc = _locations(result.captures, None)[index]
            results.append(_result(INCOMPLETE, f"{clean(capture.path)}: {text}", [loc]))
    results.extend(_result(INCOMPLETE, clean(error), []) for error in result.errors)
    # A strict failure (a stale database...) concerns the whole audit: every capture is its place.
    everywhere = _locations(result.captures, None)
    results.extend(_result(STRICT, clean(f), everywhere) for f in result.strict_failures)
    return results


def _invocation(result: AuditResult) -> JsonObject:
    invocation: JsonObject = {
        "executionSuccessful": result.complete,
        "exitCode": result.exit_status,
    }
    if result.warnings:
        invocation["toolExecutionNotifications"] = [
            {"level": "warning", "message": {"text": clean(w)}} for w in result.warnings
        ]
    return invocation


def document(result: AuditResult, version: str) -> JsonObject:
    findings = [_finding_result(f, result.captures) for f in attention(result)]
    run: JsonObject = {
        "tool": {
            "driver": {
                "name": "auditor",
                "version": version,
                "rules": _rules(),
            }
        },
        "artifacts": [
            {
                "location": {"uri": artifact_uri(c.path)},
                "description": {"text": clean(PurePosixPath(c.path).name)},
            }
            for c in result.captures
        ],
        "invocations": [_invocation(result)],
        "results": findings + _other_results(result),
        "properties": {"verdict": result.verdict.value},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


class SarifFormat(ReportFormat):
    """SARIF 2.1.0, as code-scanning hosts (GitHub, GitLab) read it."""

    name = "sarif"
    suffixes = (".sarif",)

    def render(self, result: AuditResult) -> str:
        text = json.dumps(document(result, self.options.tool_version), indent=2, ensure_ascii=False)
        return text + "\n"
