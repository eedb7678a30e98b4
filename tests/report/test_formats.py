"""Structure of each format: the JSON schema, SARIF's required fields, JUnit counts, ordering."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from io import StringIO

import pytest
from rich.console import Console

from auditor.model import AuditResult, OverallVerdict, Verdict
from auditor.report import OutputFormat, get_format
from auditor.report.csv_format import HEADER
from auditor.report.json_format import SCHEMA
from auditor.report.sarif import artifact_uri
from auditor.report.table import print_table
from tests.report.factory import (
    FIXED,
    PLAIN,
    batch_result,
    capture,
    policy,
    sample_findings,
    sample_result,
)

MINIMUM_ENDPOINT = {
    "ip",
    "verdict",
    "country",
    "registered_country",
    "asn",
    "org",
    "packets",
    "bytes",
    "flows",
    "ports",
    "hostnames",
    "reason",
}


def _object(value: object) -> dict[str, object]:
    """A JSON object, checked: the reports are read back without trusting their shape."""
    assert isinstance(value, dict), value
    return value


def _array(value: object) -> list[object]:
    assert isinstance(value, list), value
    return value


def _at(value: object, *path: str | int) -> object:
    """`_at(doc, "runs", 0, "tool")` is `doc["runs"][0]["tool"]`, checking each step's type."""
    for step in path:
        value = _array(value)[step] if isinstance(step, int) else _object(value)[step]
    return value


def _json(result: AuditResult | None = None) -> dict[str, object]:
    return _object(json.loads(get_format("json", FIXED).render(result or sample_result())))


def test_json_minimum_schema() -> None:
    document = _json()
    assert document["schema"] == SCHEMA == "auditor.report/1"
    assert document["verdict"] == "fail"
    assert document["complete"] is True
    assert document["exit_status"] == 1
    (cap,) = _array(document["captures"])
    assert {"path", "packets", "flows", "skipped", "warnings"} <= set(_object(cap))
    assert _at(cap, "flows") == 7
    (db,) = _array(document["databases"])
    assert {"path", "type", "build_epoch"} <= set(_object(db))
    assert _at(document, "policy", "allow") == ["US", "EU"]
    assert _at(document, "policy", "deny") == []
    endpoints = document["endpoints"]
    assert isinstance(endpoints, list)
    for endpoint in endpoints:
        assert set(_object(endpoint)) >= MINIMUM_ENDPOINT
        assert isinstance(_at(endpoint, "hostnames"), list)
    summary = _object(document["summary"])
    assert {"endpoints", "violations", "unknown", "packets", "bytes"} <= set(summary)
    assert summary == {
        "endpoints": 6,
        "violations": 1,
        "unknown": 1,
        "allowed": 3,
        "local": 1,
        "packets": 223,
        "bytes": 973_020,
        "accepted": 0,
    }


def test_json_endpoints_violations_first() -> None:
    verdicts = [_at(e, "verdict") for e in _array(_json()["endpoints"])]
    assert verdicts == ["violation", "unknown", "allowed", "allowed", "allowed", "local"]


@pytest.mark.parametrize(
    ("changes", "verdict", "status"),
    [
        ({"findings": ()}, "pass", 0),
        ({"captures": (capture(complete=False, warnings=("truncated at offset 99",)),)}, "fail", 1),
        ({"findings": (), "captures": (capture(complete=False),)}, "incomplete", 2),
        ({"findings": (), "errors": ("x.pcap: not a capture file",)}, "incomplete", 2),
        ({"findings": (), "strict_failures": ("db is 90 days old",)}, "fail", 1),
    ],
)
def test_json_verdict_and_exit_status(
    changes: dict[str, object], verdict: str, status: int
) -> None:
    document = _json(sample_result(**changes))
    assert document["verdict"] == verdict
    assert document["exit_status"] == status


def test_json_is_deterministic_with_fixed_time() -> None:
    fmt = get_format("json", FIXED)
    assert fmt.render(sample_result()) == fmt.render(sample_result())


def test_csv_rows() -> None:
    rows = list(csv.DictReader(StringIO(get_format("csv", FIXED).render(sample_result()))))
    assert list(rows[0]) == list(HEADER)
    assert rows[0]["verdict"] == "violation"
    assert rows[2]["org"] == "Zoom Video Communications, Inc."
    assert rows[2]["hostnames"] == "zoom.us us05web.zoom.us"


def test_junit_counts() -> None:
    root = ET.fromstring(get_format("junit", FIXED).render(sample_result()))  # noqa: S314
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "2"  # the endpoint in China, and the capture showing it
    assert suite.get("skipped") == "2"
    assert suite.get("errors") == "0"
    assert suite.get("tests") == str(len(suite.findall("testcase")))
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "CN is outside" in (failure.get("message") or "")


def test_junit_incomplete_capture_is_an_error() -> None:
    allowed = tuple(f for f in sample_result().findings if f.judgement.verdict.value != "violation")
    result = sample_result(captures=(capture(complete=False, warnings=("cut at 99",)),),
                           findings=allowed)
    root = ET.fromstring(get_format("junit", FIXED).render(result))  # noqa: S314
    error = root.find("testsuite/testcase/error")
    assert error is not None
    assert error.get("message") == "cut at 99"


def _junit_cases(result: AuditResult) -> dict[tuple[str, str], str]:
    """(classname, name) -> what the case says, as a CI's parser (junitparser) reads it."""
    from junitparser import JUnitXml

    xml = JUnitXml.fromstring(get_format("junit", FIXED).render(result))
    cases = {}
    for suite in xml:
        for case in suite:
            outcome = ",".join(type(r).__name__ for r in case.result) or "passed"
            cases[(case.classname, case.name)] = outcome
    return cases


def test_junit_names_do_not_change_with_the_database_or_the_day() -> None:
    strict = policy(strict=True)
    today = sample_result(policy=strict, strict_failures=(
        "/usr/share/GeoIP/GeoLite2-City.mmdb: database built 2025-06-17 is 165 days old",))
    moved = tuple(
        replace(f, location=replace(f.location, country="DE", city="Frankfurt"))
        for f in today.findings
    )
    tomorrow = replace(today, findings=moved, strict_failures=(
        "/usr/share/GeoIP/GeoLite2-City.mmdb: database built 2025-06-17 is 166 days old",))
    assert set(_junit_cases(today)) == set(_junit_cases(tomorrow))
    assert _junit_cases(today)[("auditor.strict", "strict checks")] == "Failure"
    assert _junit_cases(today)[("auditor.endpoint", "203.0.113.50")] == "Failure"


def test_junit_has_a_case_per_capture_with_its_own_verdict() -> None:
    cases = _junit_cases(batch_result())
    assert cases[("auditor.capture", "monday.pcapng")] == "Failure"  # the relay in China
    assert cases[("auditor.capture", "tuesday.pcapng")] == "Error"  # an unknown: not a pass


def _sarif(result: AuditResult | None = None) -> dict[str, object]:
    return _object(json.loads(get_format("sarif", FIXED).render(result or sample_result())))


def test_sarif_required_structure() -> None:
    document = _sarif()
    assert document["version"] == "2.1.0"
    assert str(document["$schema"]).endswith("sarif-2.1.0.json")
    (run,) = _array(document["runs"])
    driver = _at(run, "tool", "driver")
    assert _at(driver, "name") == "auditor"
    rules = _array(_at(driver, "rules"))
    rule_ids = [_at(rule, "id") for rule in rules]
    assert rule_ids[0] == "AUDITOR001"
    assert _at(rules, 0, "shortDescription", "text") == "endpoint outside allowed jurisdictions"
    for rule in rules:
        assert _at(rule, "defaultConfiguration", "level") in {"none", "note", "warning", "error"}
    results = _array(_at(run, "results"))
    for result in results:
        assert _at(result, "ruleId") in rule_ids
        rule_index = _at(result, "ruleIndex")
        assert isinstance(rule_index, int)
        assert rule_ids[rule_index] == _at(result, "ruleId")
        assert _at(result, "message", "text")
        assert _at(result, "level") in {"none", "note", "warning", "error"}
        for location in _array(_at(result, "locations")):
            assert _at(location, "physicalLocation", "artifactLocation", "uri")
    assert [_at(r, "ruleId") for r in results] == ["AUDITOR001", "AUDITOR002"]
    first = results[0]
    uri = _at(first, "locations", 0, "physicalLocation", "artifactLocation", "uri")
    assert uri == "meeting.pcapng"
    assert _at(first, "locations", 0, "properties", "frame") == 42
    assert _at(run, "invocations", 0, "exitCode") == 1


def test_sarif_other_results() -> None:
    result = sample_result(
        findings=(), captures=(capture(complete=False),), strict_failures=("stale database",)
    )
    results = _array(_at(_sarif(result), "runs", 0, "results"))
    assert [_at(r, "ruleId") for r in results] == ["AUDITOR003", "AUDITOR004"]


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("meeting.pcap", "meeting.pcap"),
        ("/tmp/a b/m.pcap", "file:///tmp/a%20b/m.pcap"),
        ("dir/\udcffx.pcap", "dir/%FFx.pcap"),
    ],
)
def test_sarif_artifact_uri(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri


def test_html_is_self_contained() -> None:
    page = get_format("html", FIXED).render(sample_result())
    assert "<script" not in page
    assert "src=" not in page
    assert "href=" not in page
    assert "default-src 'none'" in page


def test_table_order_and_panel() -> None:
    text = get_format("table", replace(PLAIN, width=200)).render(sample_result())
    lines = [line for line in text.splitlines() if line.strip().split(" ")[0].count(".") == 3]
    assert lines[0].split()[0] == "203.0.113.50"
    assert "FAIL" in text
    assert "GeoLite2 data created by MaxMind" in text


def test_table_without_color_has_no_ansi() -> None:
    assert "\x1b" not in get_format("table", PLAIN).render(sample_result())


def test_print_table_uses_the_given_console() -> None:
    console = Console(file=StringIO(), width=150, force_terminal=False, _environ={})
    print_table(sample_result(), console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Server endpoints" in output
    assert "Audit verdict" in output


def test_panel_lists_incomplete_capture_warnings() -> None:
    result = sample_result(captures=(capture(complete=False, warnings=("truncated at 4096",)),))
    for name in ("table", "text"):
        output = get_format(name, replace(PLAIN, width=200)).render(result)
        assert "INCOMPLETE" in output
        assert "truncated at 4096" in output


def test_text_has_no_trailing_spaces_and_one_line_per_endpoint() -> None:
    output = get_format("text", PLAIN).render(sample_result())
    assert all(line == line.rstrip() for line in output.splitlines())
    rows = [
        line
        for line in output.splitlines()
        if line.split("  ")[0].strip() in {f.endpoint.ip for f in sample_findings()}
    ]
    assert len(rows) == 6


def test_overall_verdict_words() -> None:
    result = sample_result(findings=())
    assert result.verdict is OverallVerdict.PASS
    assert get_format("text", PLAIN).render(result).startswith("verdict: PASS")


def test_deny_only_policy_label() -> None:
    result = sample_result(policy=policy("", "CN"), findings=())
    assert "allow all countries not denied; deny CN" in get_format("text", PLAIN).render(result)


@pytest.mark.parametrize("name", ["TABLE", "json", " Sarif "])
def test_get_format_names(name: str) -> None:
    assert get_format(name).name == name.strip().lower()


def test_get_format_unknown() -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        get_format("xml")


def test_output_file_suffixes_name_one_format_each() -> None:
    assert OutputFormat.for_suffix(".SARIF") is OutputFormat.SARIF
    assert OutputFormat.for_suffix(".htm") is OutputFormat.HTML
    assert OutputFormat.for_suffix(".xml") is OutputFormat.JUNIT
    assert OutputFormat.for_suffix(".pcap") is None
    suffixes = [s for f in OutputFormat for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes))


@pytest.mark.parametrize("chosen", list(OutputFormat))
def test_each_format_name_loads_its_own_format(chosen: OutputFormat) -> None:
    assert chosen.to_format().name == chosen.value


def test_verdict_counts_match_model() -> None:
    result = sample_result()
    assert result.summary.violations == sum(
        f.judgement.verdict is Verdict.VIOLATION for f in result.findings
    )


def test_schema_doc_names_every_endpoint_field() -> None:
    from pathlib import Path

    import auditor.report

    doc = (Path(auditor.report.__file__).parent / "SCHEMA.md").read_text(encoding="utf-8")
    document = _json()
    endpoint = _object(_at(document, "endpoints", 0))
    first_capture = _object(_at(document, "captures", 0))
    for key in [*document, *endpoint, *first_capture, *_object(document["policy"])]:
        assert f"`{key}`" in doc, key


@pytest.mark.parametrize("width", [40, 60, 80, 90, 100, 120, 149, 150, 179, 180, 200])
def test_table_keeps_every_fact_at_any_width(width: int) -> None:
    result = sample_result()
    output = get_format("table", replace(PLAIN, width=width)).render(result)
    words = output.split()
    for finding in result.findings:
        assert finding.endpoint.ip in words, (width, finding.endpoint.ip)
    for verdict in ("violation", "unknown", "allowed", "local"):
        assert verdict in words, (width, verdict)
    assert "FAIL" in output
