"""The JSON report checked by its consumer's tool: every report validates against the JSON
Schema shipped in the package (auditor/report/report.schema.json), with jsonschema."""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.cli import Environment, main
from auditor.report import get_format
from tests.report.factory import FIXED, batch_result, sample_result, with_org
from tests.report.hostile import HOSTILE

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
BUNDLED = REPO / "auditor" / "data" / "auditor-country.mmdb"


def schema() -> dict[str, Any]:
    text = resources.files("auditor.report").joinpath("report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def check(report: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(report)
    jsonschema.validate(document, schema(), cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return document


def audit_json(*argv: str | Path) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    env = Environment(stdout=out, stderr=io.StringIO(), env={}, stdout_isatty=False,
                      stderr_isatty=False)
    status = main([*map(str, argv), "--db", str(BUNDLED), "--format", "json"], env)
    return status, check(out.getvalue())


def test_the_schema_is_itself_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_the_schema_refuses_what_a_consumer_must_not_accept() -> None:
    document = json.loads(get_format("json", FIXED).render(sample_result()))
    document["endpoints"][0]["asn"] = "4134"  # a string where consumers expect an integer
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())
    document = json.loads(get_format("json", FIXED).render(sample_result()))
    document["captures"][0]["verdict"] = "ok"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())


@pytest.mark.parametrize("result", [sample_result(), batch_result(), with_org(HOSTILE["bidi"]),
                                    sample_result(findings=(), captures=())],
                         ids=["sample", "batch", "hostile", "empty"])
def test_rendered_results_validate(result: object) -> None:
    check(get_format("json", FIXED).render(result))  # type: ignore[arg-type]


@pytest.mark.parametrize("capture", [
    "demo-meeting.pcap", "demo-meeting.pcapng", "zeek/wikipedia", "netflow/zoom2-v9.flows",
    "webrtc/chromium-getstats-relay.json",
])
def test_every_kind_of_input_gives_a_valid_report(capture: str) -> None:
    audit_json(FIXTURES / capture, "--allow", "US,EU")


def test_a_run_that_read_nothing_gives_a_valid_report(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\0" * 3)
    status, document = audit_json(broken, "--allow", "US,EU")
    assert status == 2
    assert document["verdict"] == "incomplete"


def test_a_batch_of_real_meetings_gives_a_valid_report(shared_data: Path) -> None:
    meetings = shared_data / "pcaps" / "meetings"
    captures = [meetings / n for n in ("zoom.pcap", "teams.pcap", "webex.pcap", "wechat.pcap")]
    _, document = audit_json(*captures, "--allow", "US,EU")
    assert [c["path"] for c in document["captures"]] == [str(c) for c in captures]
    seen = {ip for c in document["captures"] for ip in (e["ip"] for e in c["endpoints"])}
    assert seen == {e["ip"] for e in document["endpoints"]}
