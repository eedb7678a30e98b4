"""The JUnit XML report for CI systems: one test case per endpoint, a failure per violation."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from auditor.model import AuditResult, Finding, Verdict
from auditor.report.escape import clean
from auditor.report.interface import ReportFormat
from auditor.report.view import generated_at, place_label, roles_label, sorted_findings

SUITE = "jurisdiction audit"


def _case(parent: ET.Element, finding: Finding) -> None:
    endpoint, judgement = finding.endpoint, finding.judgement
    where = place_label(finding.location) or "unknown location"
    where = where if where.startswith("(") else f"({where})"
    case = ET.SubElement(
        parent,
        "testcase",
        classname="auditor.endpoint",
        name=f"{clean(endpoint.ip)} {where}",
        time="0",
    )
    reason = clean(judgement.reason)
    details = f"{reason}\nports: {', '.join(clean(p) for p in endpoint.ports)}"
    if endpoint.roles:
        details += f"\nroles: {clean(roles_label(endpoint))}"
    if judgement.verdict is Verdict.VIOLATION:
        ET.SubElement(case, "failure", message=reason, type="violation").text = details
    elif judgement.verdict in (Verdict.UNKNOWN, Verdict.LOCAL):
        # Not judged as outside the policy, and not proven inside it either.
        ET.SubElement(case, "skipped", message=f"{judgement.verdict.value}: {reason}")
    ET.SubElement(case, "system-out").text = details


def _capture_cases(parent: ET.Element, result: AuditResult) -> int:
    """A case per capture (an error when it was read incompletely) and per strict failure."""
    errors = 0
    for capture in result.captures:
        case = ET.SubElement(
            parent, "testcase", classname="auditor.capture", name=clean(capture.path), time="0"
        )
        if not capture.complete:
            errors += 1
            message = "; ".join(clean(w) for w in capture.warnings) or "capture read incompletely"
            ET.SubElement(case, "error", message=message, type="incomplete")
    for error in result.errors:
        errors += 1
        case = ET.SubElement(
            parent, "testcase", classname="auditor.capture", name=clean(error), time="0"
        )
        ET.SubElement(case, "error", message=clean(error), type="unreadable")
    return errors


def _strict_cases(parent: ET.Element, result: AuditResult) -> int:
    for failure in result.strict_failures:
        case = ET.SubElement(
            parent, "testcase", classname="auditor.strict", name=clean(failure), time="0"
        )
        ET.SubElement(case, "failure", message=clean(failure), type="strict")
    return len(result.strict_failures)


def build(result: AuditResult, timestamp: str) -> ET.Element:
    root = ET.Element("testsuites", name="auditor")
    suite = ET.SubElement(root, "testsuite", name=SUITE, timestamp=timestamp)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("verdict", result.verdict.value),
        ("exit_status", str(result.exit_status)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    findings = sorted_findings(result.findings)
    for finding in findings:
        _case(suite, finding)
    errors = _capture_cases(suite, result)
    failures = result.summary.violations + _strict_cases(suite, result)
    skipped = result.summary.unknown + result.summary.local
    tests = len(findings) + len(result.captures) + len(result.errors) + len(result.strict_failures)
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
    suffixes = (".xml",)

    def render(self, result: AuditResult) -> str:
        root = build(result, generated_at(self.options).removesuffix("Z"))
        ET.indent(root)
        body = ET.tostring(root, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
