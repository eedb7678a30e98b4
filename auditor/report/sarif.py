"""The SARIF 2.1.0 report for code-scanning hosts: one result per violation or unknown endpoint,
located in every capture that shows it; checked against the OASIS schema in the tests."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from io import StringIO
from itertools import chain
from json.encoder import encode_basestring
from pathlib import PurePosixPath
from typing import Any, TextIO
from urllib.parse import quote

from auditor.model import AuditResult, CaptureSummary, Finding, Severity
from auditor.report.escape import clean, clean_optional
from auditor.report.interface import RenderOptions, ReportFormat
from auditor.report.view import (
    acceptance_label,
    attention,
    generated_at,
    network_label,
    place_label,
    reason_label,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
ROOT_ID = "SRCROOT"  # the uriBaseId of capture paths given relative to --sarif-root
CATEGORY = "auditor/jurisdiction"  # automationDetails: runs of one category are compared

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: ids are stable and never reused; help is what a code host shows."""

    id: str
    name: str
    short: str
    level: str
    help: str


RULES: tuple[Rule, ...] = (
    Rule("AUDITOR001", "EndpointOutsideAllowedJurisdictions",
         "endpoint outside allowed jurisdictions", "error",
         "A server of the meeting is located in a country the policy does not allow. Check "
         "the endpoint's evidence in the JSON report; if it is known and accepted, add an "
         "exception with a justification and an expiry date to the policy file."),
    Rule("AUDITOR002", "EndpointLocationUnknown", "endpoint location unknown or uncertain",
         "warning",
         "No database places this server, or the evidence disagrees: it was not judged, so the "
         "run is incomplete. Update the databases (audit db update) or give a City database "
         "with --db; --strict counts such endpoints as violations."),
    Rule("AUDITOR003", "CaptureIncomplete", "capture could not be read to the end", "error",
         "The capture is damaged or could not be read whole: servers seen after the damage "
         "were not audited. Capture again or repair the file."),
    Rule("AUDITOR004", "StrictCheckFailed", "a --strict check failed", "error",
         "Under --strict a stale database fails the run. Fetch fresher data with "
         "'audit db update' or give a newer database with --db."),
    Rule("AUDITOR005", "EndpointInDeniedJurisdiction", "endpoint in a denied jurisdiction",
         "error",
         "A server of the meeting is located in a country the policy denies explicitly: the "
         "most severe finding. A denied country is a violation even inside an allowed group."),
)
RULE_INDEX = {rule.id: index for index, rule in enumerate(RULES)}
VIOLATION, UNKNOWN, INCOMPLETE, STRICT, DENIED = (rule.id for rule in RULES)


def artifact_uri(path: str, root: str | None = None) -> str:
    """A URI reference for a capture path; bytes are percent-encoded, so nothing is lost.
    Under ``root`` the path is made relative to it (resolved against uriBaseId SRCROOT)."""
    relative = _under(path, root)
    if relative is not None:
        return quote(os.fsencode(relative), safe="/")
    raw = os.fsencode(path)
    if raw.startswith(b"/"):
        return "file://" + quote(raw, safe="/")
    return quote(raw, safe="/")


def _under(path: str, root: str | None) -> str | None:
    if root is None:
        return None
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return None if relative.startswith("..") else PurePosixPath(relative).as_posix()


def _help_uri(options: RenderOptions, rule: Rule) -> JsonObject:
    return {"helpUri": f"{options.help_url}#{rule.id.lower()}"} if options.help_url else {}


def _rules(options: RenderOptions) -> list[JsonObject]:
    return [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.short},
            "fullDescription": {"text": f"{rule.short[0].upper()}{rule.short[1:]}."},
            "help": {"text": rule.help, "markdown": f"**{rule.short}**\n\n{rule.help}"},
            **_help_uri(options, rule),
            "defaultConfiguration": {"level": rule.level},
            "properties": {"tags": ["compliance", "jurisdiction"]},
        }
        for rule in RULES
    ]


def _location(capture: str, index: int, root: str | None, frame: int | None) -> JsonObject:
    artifact: JsonObject = {"uri": artifact_uri(capture, root), "index": index}
    if _under(capture, root) is not None:
        artifact["uriBaseId"] = ROOT_ID
    location: JsonObject = {"physicalLocation": {"artifactLocation": artifact}}
    if frame:  # flow logs, flow export and WebRTC dumps have no frames: 0 points nowhere
        location["properties"] = {"frame": frame}
    return location


def _result(rule_id: str, text: str, locations: list[JsonObject], key: str) -> JsonObject:
    return {
        "ruleId": rule_id,
        "ruleIndex": RULE_INDEX[rule_id],
        "level": RULES[RULE_INDEX[rule_id]].level,
        "message": {"text": text},
        "locations": locations,
        # Stable across runs, days and database updates: the rule and what it is about.
        "partialFingerprints": {"auditor/v1": f"{rule_id}:{key}"},
    }


def _stable(text: str) -> str:
    """A key for a message whose numbers (ages, dates, counts) change from run to run."""
    digits_out = re.sub(r"\d+", "#", text).encode("utf-8", "surrogateescape")
    return hashlib.sha256(digits_out).hexdigest()[:16]


class _Document:
    def __init__(self, result: AuditResult, options: RenderOptions) -> None:
        self.result, self.options = result, options
        self.index = {c.path: i for i, c in enumerate(result.captures)}

    def where(self, capture: str, frame: int | None = None) -> JsonObject:
        return _location(capture, self.index.get(capture, 0), self.options.sarif_root, frame)

    def finding(self, finding: Finding) -> JsonObject:
        endpoint, location, judgement = finding.endpoint, finding.location, finding.judgement
        rule_id = _rule_of(finding, self.result)
        where = "; ".join(p for p in (place_label(location), network_label(location)) if p)
        text = f"{clean(endpoint.ip)}"
        text += f" ({where})" if where else ""
        text += f": {reason_label(finding)}"
        seen = [s for s in endpoint.seen_in() if s.capture in self.index]
        if seen and seen[0].first_frame:
            text += f"; first seen at frame {seen[0].first_frame} of {clean(seen[0].capture)}"
        locations = [self.where(s.capture, s.first_frame) for s in seen]
        result = _result(rule_id, text, locations, clean(endpoint.ip))
        result.update(_suppressions(finding))
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
            "roles": [{"role": c.role.value, "evidence": clean(c.evidence)}
                      for c in endpoint.roles],
            "firstFrame": endpoint.first_frame,
            "captures": [clean(c) for c in endpoint.captures],
        }
        return result

    def others(self) -> list[JsonObject]:
        result, results = self.result, []
        for capture in result.captures:
            if not capture.complete:
                text = "; ".join(clean(w) for w in capture.warnings) or "capture read incompletely"
                results.append(_result(INCOMPLETE, f"{clean(capture.path)}: {text}",
                                       [self.where(capture.path)], clean(capture.path)))
        results.extend(_result(INCOMPLETE, clean(error), [], _stable(clean(error)))
                       for error in result.errors)
        # A strict failure (a stale database...) concerns the whole audit: every capture.
        everywhere = [self.where(c.path) for c in result.captures]
        results.extend(_result(STRICT, clean(f), everywhere, _stable(clean(f)))
                       for f in result.strict_failures)
        return results

    def artifacts(self) -> list[JsonObject]:
        return [self._artifact(c) for c in self.result.captures]

    def _artifact(self, capture: CaptureSummary) -> JsonObject:
        location: JsonObject = {"uri": artifact_uri(capture.path, self.options.sarif_root)}
        if _under(capture.path, self.options.sarif_root) is not None:
            location["uriBaseId"] = ROOT_ID
        return {"location": location,
                "description": {"text": clean(PurePosixPath(capture.path).name)}}


def _rule_of(finding: Finding, result: AuditResult) -> str:
    return {Severity.DENIED: DENIED, Severity.OUTSIDE: VIOLATION}.get(
        finding.severity(result.policy) or Severity.UNKNOWN, UNKNOWN)


def _suppressions(finding: Finding) -> JsonObject:
    """An accepted finding stays in the report, suppressed: code hosts show it as dismissed."""
    acceptance = finding.acceptance
    if acceptance is None or not acceptance.applies:
        return {}
    return {"suppressions": [{"kind": "external", "status": "accepted",
                              "justification": acceptance_label(finding)}]}


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


def _root_uri(root: str) -> str:
    return "file://" + quote(os.fsencode(os.path.abspath(root)).rstrip(b"/") + b"/", safe="/")


def document(result: AuditResult, options: RenderOptions) -> JsonObject:
    """The whole SARIF document in memory (small results; SarifFormat.write streams it)."""
    made = _Document(result, options)
    return _frame(made, [made.finding(f) for f in attention(result)] + made.others())


def _frame(made: _Document, results: object) -> JsonObject:
    """The document around its results (a list, or the marker the writer streams them at)."""
    result, options = made.result, made.options
    driver: JsonObject = {"name": "auditor", "version": options.tool_version}
    if options.help_url:
        driver["informationUri"] = options.help_url
    driver["rules"] = _rules(options)
    run: JsonObject = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"{CATEGORY}/{generated_at(options)}"},
        "artifacts": made.artifacts(),
        "invocations": [_invocation(result)],
        "results": results,
        "properties": {"verdict": result.verdict.value},
    }
    if options.sarif_root is not None:
        run["originalUriBaseIds"] = {ROOT_ID: {"uri": _root_uri(options.sarif_root)}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


# Stands where the results go in the frame's text. No string from a capture can encode to it:
# clean() shows every control character (NUL included) as a visible escape, and argv (the
# help URL) cannot hold a NUL. Were it there twice, unpacking the split fails loudly.
_RESULTS_MARK = "\x00results"
_RESULTS_MARK_ENCODED = json.dumps(_RESULTS_MARK)


def _encoded(value: object, pad: str) -> str:
    """``value`` as json.dumps(indent=2, ensure_ascii=False) writes it, each line after the
    first starting with ``pad``. Strings go through the C string encoder; the structure is
    written here, since json's own indenting encoder is pure Python and generators, ~3x slower."""
    parts: list[str] = []
    _indented(value, "\n" + pad, parts)
    return "".join(parts)


def _indented(value: object, newline: str, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(encode_basestring(value))
    elif isinstance(value, dict):
        _indented_dict(value, newline, parts)
    elif isinstance(value, list | tuple):
        _indented_list(value, newline, parts)
    else:
        parts.append(_scalar(value))


def _indented_dict(value: dict[object, object], newline: str, parts: list[str]) -> None:
    if not value:
        parts.append("{}")
        return
    inner, opening = newline + "  ", "{"
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"SARIF keys are strings, not {key!r}")
        parts.append(f"{opening}{inner}{encode_basestring(key)}: ")
        _indented(item, inner, parts)
        opening = ","
    parts.append(newline + "}")


def _indented_list(value: list[object] | tuple[object, ...], newline: str,
                   parts: list[str]) -> None:
    if not value:
        parts.append("[]")
        return
    inner, opening = newline + "  ", "["
    for item in value:
        parts.append(opening + inner)
        _indented(item, inner, parts)
        opening = ","
    parts.append(newline + "]")


def _scalar(value: object) -> str:
    """null, true, false and numbers, as json writes them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)  # an IntEnum as its number, as json does
    if isinstance(value, float):
        return json.dumps(value)  # repr, or NaN and the infinities as json spells them
    raise TypeError(f"not JSON: {value!r}")


def _write_results(stream: TextIO, results: Iterable[JsonObject], pad: str) -> None:
    """An indent=2 array of ``results`` at ``pad``, one result encoded and written at a time."""
    item_pad, opened = pad + "  ", False
    for item in results:
        stream.write(f"{',' if opened else '['}\n{item_pad}{_encoded(item, item_pad)}")
        opened = True
    stream.write(f"\n{pad}]" if opened else "[]")


class SarifFormat(ReportFormat):
    """SARIF 2.1.0, as code-scanning hosts (GitHub, GitLab) read it."""

    name = "sarif"

    def render(self, result: AuditResult) -> str:
        buffer = StringIO()
        self.write(result, buffer)
        return buffer.getvalue()

    def write(self, result: AuditResult, stream: TextIO) -> None:
        """The bytes json.dumps(document, indent=2) gives, written a result at a time: the
        results grow with the violations and unknowns; the frame around them does not."""
        made = _Document(result, self.options)
        frame = json.dumps(_frame(made, _RESULTS_MARK), indent=2, ensure_ascii=False)
        head, tail = frame.split(_RESULTS_MARK_ENCODED)
        stream.write(head)
        key_line = head[head.rindex("\n") + 1:]  # '      "results": '
        pad = key_line[: len(key_line) - len(key_line.lstrip())]
        results = chain(map(made.finding, attention(result)), made.others())
        _write_results(stream, results, pad)
        stream.write(tail + "\n")
