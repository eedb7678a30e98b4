"""The SARIF report checked as its consumers check it: against the OASIS SARIF 2.1.0 schema
(tests/report/schemas, with its source and licence), with what GitHub code scanning needs (rule
help, relative URIs under --sarif-root, automationDetails, stable fingerprints)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.cli import Environment, main
from auditor.model import AuditResult
from auditor.report import get_format
from auditor.report.interface import RenderOptions
from tests.report.factory import (
    FIXED,
    MONDAY,
    TUESDAY,
    batch_result,
    capture,
    policy,
    sample_result,
    with_org,
)
from tests.report.hostile import HOSTILE

SCHEMA = Path(__file__).with_name("schemas") / "sarif-schema-2.1.0.json"
REPO = Path(__file__).resolve().parents[2]
STALE = "/usr/share/GeoIP/GeoLite2-City.mmdb built 2025-06-17, 165 days ago"


def sarif(result: AuditResult, options: RenderOptions = FIXED) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(get_format("sarif", options).render(result))
    schema = json.loads(SCHEMA.read_text("utf-8"))
    jsonschema.validate(document, schema, cls=jsonschema.Draft4Validator)
    return document


def results(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["runs"][0]["results"]
    return found


def test_the_oasis_schema_catches_a_broken_report() -> None:
    document = sarif(sample_result())
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA.read_text("utf-8")))


@pytest.mark.parametrize("result", [
    sample_result(),
    batch_result(),
    with_org(HOSTILE["hyperlink"]),
    sample_result(findings=(), captures=(capture(complete=False),),
                  errors=("gone.pcap: cannot open",), policy=policy(strict=True),
                  strict_failures=(STALE,)),
], ids=["sample", "batch", "hostile", "incomplete-strict"])
def test_reports_validate_against_the_oasis_schema(result: AuditResult) -> None:
    sarif(result)
    sarif(result, replace(FIXED, sarif_root="/", help_url="https://docs.example/rules"))


def test_every_rule_has_help_and_links_when_a_help_url_is_given() -> None:
    options = replace(FIXED, help_url="https://docs.example/rules")
    driver = sarif(sample_result(), options)["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://docs.example/rules"
    for rule in driver["rules"]:
        assert rule["help"]["text"]
        assert rule["help"]["markdown"]
        assert rule["helpUri"] == f"https://docs.example/rules#{rule['id'].lower()}"


def test_paths_under_the_sarif_root_are_relative() -> None:
    result = batch_result(captures=(capture("/repo/captures/monday.pcapng"),
                                    capture("/elsewhere/tuesday.pcapng")))
    document = sarif(result, replace(FIXED, sarif_root="/repo"))
    run = document["runs"][0]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == "file:///repo/"
    inside, outside = (a["location"] for a in run["artifacts"])
    assert inside == {"uri": "captures/monday.pcapng", "uriBaseId": "SRCROOT"}
    assert outside == {"uri": "file:///elsewhere/tuesday.pcapng"}


def test_an_endpoint_is_located_in_every_capture_with_its_own_frame() -> None:
    document = sarif(batch_result())
    by_ip = {r["properties"]["ip"]: r for r in results(document)}
    assert "198.51.100.7" not in by_ip  # allowed: not a finding
    (relay,) = by_ip["203.0.113.50"]["locations"]
    assert relay["physicalLocation"]["artifactLocation"]["uri"] == MONDAY
    assert relay["properties"]["frame"] == 42
    (unplaced,) = by_ip["192.0.2.77"]["locations"]
    assert unplaced["physicalLocation"]["artifactLocation"] == {"uri": TUESDAY, "index": 1}


def test_fingerprints_are_stable_across_days_and_database_updates() -> None:
    strict = policy(strict=True)
    today = sample_result(policy=strict, strict_failures=(STALE,))
    moved = tuple(replace(f, location=replace(f.location, city="Shanghai")) for f in today.findings)
    tomorrow = replace(today, findings=moved,
                       strict_failures=(STALE.replace("165", "166").replace("06-17", "07-17"),))
    first, second = (
        [r["partialFingerprints"] for r in results(sarif(r))] for r in (today, tomorrow)
    )
    assert first == second
    assert all(f for f in first)  # every result has one, the stale-database one too
    assert len({json.dumps(f) for f in first}) == len(first)


def test_a_denied_country_is_its_own_rule() -> None:
    denied = sample_result(policy=policy(deny="CN"))
    findings = tuple(replace(f, judgement=replace(f.judgement, judged_country="CN"))
                     if f.endpoint.ip == "203.0.113.50" else f for f in denied.findings)
    by_ip = {r["properties"]["ip"]: r["ruleId"]
             for r in results(sarif(replace(denied, findings=findings)))}
    assert by_ip["203.0.113.50"] == "AUDITOR005"


def test_the_command_line_writes_relative_uris(tmp_path: Path) -> None:
    out = io.StringIO()
    env = Environment(stdout=out, stderr=io.StringIO(), env={}, stdout_isatty=False,
                      stderr_isatty=False)
    main([str(REPO / "fixtures" / "demo-meeting.pcap"), "--allow", "US,EU", "--format",
          "sarif", "--sarif-root", str(REPO), "--max-db-age", "1e9"], env)
    document = json.loads(out.getvalue())
    jsonschema.validate(document, json.loads(SCHEMA.read_text("utf-8")))
    (artifact,) = document["runs"][0]["artifacts"]
    assert artifact["location"]["uri"] == "fixtures/demo-meeting.pcap"
    assert document["runs"][0]["automationDetails"]["id"].startswith("auditor/jurisdiction/")
