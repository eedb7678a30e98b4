"""The JUnit XML report for CI systems: a test case per endpoint and per capture, a failure per
violation and per capture that failed. Test names are stable: an endpoint's is its address and
a capture's its file name, never a country, a count or a date, so a database update or another
day does not turn one test into another in a CI's history."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import PurePath
from typing import TextIO

from auditor.model import AuditResult, Finding, OverallVerdict, Verdict
from auditor.report.escape import clean
from auditor.report.interface import ReportFormat
from auditor.report.sections import CaptureSection, capture_sections
from auditor.report.view import (
    generated_at,
    place_label,
    reason_label,
    roles_label,
    sighting_label,
    sorted_findings,
    summary_label,
    verdict_word,
)

SUITE = "jurisdiction audit"
STRICT_CASE = "strict checks"


def _case(parent: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(parent, "testcase", classname=classname, name=name, time="0")


def _endpoint_case(finding: Finding) -> ET.Element:
    endpoint, judgement = finding.endpoint, finding.judgement
    case = ET.Element("testcase", classname="auditor.endpoint", name=clean(endpoint.ip), time="0")
    reason = reason_label(finding)
    where = place_label(finding.location) or "unknown location"
    details = "\n".join([
        reason,
        f"location: {where}",
        f"ports: {', '.join(clean(p) for p in endpoint.ports)}",
        *(f"seen in {clean(s.capture)}: frame {s.first_frame}" for s in endpoint.seen_in()),
        *([f"roles: {clean(roles_label(endpoint))}"] if endpoint.roles else []),
    ])
    if judgement.verdict is Verdict.VIOLATION and finding.accepted:
        ET.SubElement(case, "skipped", message=reason)
    elif judgement.verdict is Verdict.VIOLATION:
        ET.SubElement(case, "failure", message=reason, type="violation").text = details
    elif judgement.verdict in (Verdict.UNKNOWN, Verdict.LOCAL):
        # Not judged as outside the policy, and not proven inside it either.
        ET.SubElement(case, "skipped", message=f"{judgement.verdict.value}: {reason}")
    ET.SubElement(case, "system-out").text = details
    return case


def _capture_case(parent: ET.Element, section: CaptureSection) -> tuple[int, int]:
    """The capture judged on its own: a failure when it shows a violation, an error when it
    could not be audited whole or shows an endpoint left unjudged; (failures, errors) added."""
    capture, own = section.capture, section.result
    case = _case(parent, "auditor.capture", clean(PurePath(capture.path).name))
    found = [sighting_label(f) for f in sorted_findings(own.findings)
             if f.judgement.verdict in (Verdict.VIOLATION, Verdict.UNKNOWN)]
    details = "\n".join([clean(capture.path), f"{verdict_word(own)}: {summary_label(own)}",
                         *found, *(f"warning: {clean(w)}" for w in capture.warnings)])
    counts = (0, 0)
    if own.verdict is OverallVerdict.FAIL:
        ET.SubElement(case, "failure", message=f"{verdict_word(own)}: {summary_label(own)}",
                      type="violation").text = details
        counts = (1, 0)
    elif own.verdict is OverallVerdict.INCOMPLETE:
        # Fail closed: a capture with an endpoint nobody could judge did not pass.
        message = "; ".join(clean(w) for w in capture.warnings) or (
            f"{verdict_word(own)}: {summary_label(own)}")
        ET.SubElement(case, "error", message=message, type="incomplete")
        counts = (0, 1)
    ET.SubElement(case, "system-out").text = details
    return counts


def _unreadable_cases(parent: ET.Element, result: AuditResult) -> int:
    for error in result.errors:
        # The message starts with the path; the name is the file's, as for a capture read.
        path = error.split(": ", 1)[0]
        case = _case(parent, "auditor.capture", clean(PurePath(path).name))
        ET.SubElement(case, "error", message=clean(error), type="unreadable")
    return len(result.errors)


def _strict_case(parent: ET.Element, result: AuditResult) -> int:
    """One case for every --strict check, so its name never carries an age or a path."""
    if not result.policy.strict:
        return 0
    case = _case(parent, "auditor.strict", STRICT_CASE)
    if not result.strict_failures:
        return 0
    text = "\n".join(clean(f) for f in result.strict_failures)
    ET.SubElement(case, "failure", message=clean(result.strict_failures[0]),
                  type="strict").text = text
    return 1


def build(result: AuditResult, timestamp: str) -> ET.Element:
    """The whole document as one tree (small results; JunitFormat.write streams the cases)."""
    root = _frame(result, timestamp, endpoints=len(result.findings))
    suite = root[0]
    at = list(suite).index(suite.find(_ENDPOINTS))  # type: ignore[arg-type]
    suite.remove(suite[at])
    for offset, finding in enumerate(sorted_findings(result.findings)):
        suite.insert(at + offset, _endpoint_case(finding))
    return root


# Where the endpoint cases go in the frame: written there one by one, never all in a tree.
_ENDPOINTS = "auditor-endpoint-cases"


def _frame(result: AuditResult, timestamp: str, *, endpoints: int) -> ET.Element:
    """The document with every element but the endpoint cases, a marker in their place; the
    counts include those ``endpoints`` cases."""
    root = ET.Element("testsuites", name="auditor")
    suite = ET.SubElement(root, "testsuite", name=SUITE, timestamp=timestamp)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("verdict", result.verdict.value),
        ("exit_status", str(result.exit_status)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    ET.SubElement(suite, _ENDPOINTS)
    failures, errors = result.summary.violations, 0
    for section in capture_sections(result):
        failed, erred = _capture_case(suite, section)
        failures, errors = failures + failed, errors + erred
    errors += _unreadable_cases(suite, result)
    failures += _strict_case(suite, result)
    skipped = result.summary.unknown + result.summary.local
    tests = len(suite.findall("testcase")) + endpoints
    counts = {"tests": tests, "failures": failures, "errors": errors, "skipped": skipped}
    for element in (root, suite):
        for key, count in counts.items():
            element.set(key, str(count))
    root.attrib.pop("skipped")  # <testsuites> has no skipped count in the common schema
    if result.warnings:  # e.g. nothing public was seen: CI shows a suite's system-err
        ET.SubElement(suite, "system-err").text = "".join(
            f"warning: {clean(w)}\n" for w in result.warnings
        )
    return root


class JunitFormat(ReportFormat):
    """JUnit XML: CI marks the build red on a violation and lists each endpoint as a test."""

    name = "junit"

    def render(self, result: AuditResult) -> str:
        stream = io.StringIO()
        self.write(result, stream)
        return stream.getvalue()

    def write(self, result: AuditResult, stream: TextIO) -> None:
        """As ET.indent and ET.tostring write the whole tree, an endpoint case at a time."""
        root = _frame(result, generated_at(self.options).removesuffix("Z"),
                      endpoints=len(result.findings))  # fmt: skip
        ET.indent(root)
        marker = f"<{_ENDPOINTS} />"
        before, after = ET.tostring(root, encoding="unicode").split(marker)
        between = before[before.rindex("\n"):]  # the indentation of a case at its level
        if not result.findings:  # no case: the marker's indentation goes with it
            before = before.removesuffix(between)
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        stream.write(before)
        for index, finding in enumerate(sorted_findings(result.findings)):
            case = _endpoint_case(finding)
            ET.indent(case, level=2)
            stream.write((between if index else "") + ET.tostring(case, encoding="unicode"))
        stream.write(after)
        stream.write("\n")
