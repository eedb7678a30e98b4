"""The SARIF report written a result at a time is the in-memory document's indent=2 encoding."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from auditor.model import AuditResult
from auditor.report.interface import RenderOptions
from auditor.report.sarif import SarifFormat, document
from tests.report.factory import FIXED, batch_result, sample_result, with_org
from tests.report.hostile import HOSTILE
from tests.report.test_many_endpoints import CountingStream, many

CASES = {
    "sample": sample_result(),
    "batch": batch_result(),
    "many": many(),
    "no endpoint": replace(sample_result(), findings=()),
    "no result at all": replace(sample_result(), findings=(), captures=(), warnings=()),
    **{f"hostile {name}": with_org(text) for name, text in HOSTILE.items()},
}
OPTIONS = {
    "fixed": FIXED,
    "root and help": replace(FIXED, sarif_root="/srv/checkout", help_url="https://h.example/x"),
}


def _in_memory(result: AuditResult, options: RenderOptions) -> str:
    """How the report was made before it was streamed: one document, dumped at once."""
    return json.dumps(document(result, options), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("options", list(OPTIONS))
@pytest.mark.parametrize("case", list(CASES))
def test_streamed_sarif_is_the_whole_document(case: str, options: str) -> None:
    result, chosen = CASES[case], OPTIONS[options]
    stream = CountingStream()
    SarifFormat(chosen).write(result, stream)
    assert stream.getvalue() == _in_memory(result, chosen)
    assert SarifFormat(chosen).render(result) == stream.getvalue()


def test_many_findings_are_written_one_at_a_time_and_all_there() -> None:
    result = many()
    stream = CountingStream()
    SarifFormat(FIXED).write(result, stream)
    needing = [f for f in result.findings if f.judgement.verdict.value != "allowed"]
    assert stream.writes > len(needing)
    [run] = json.loads(stream.getvalue())["runs"]
    ips = [r["properties"]["ip"] for r in run["results"] if "properties" in r]
    assert sorted(ips) == sorted(f.endpoint.ip for f in needing)
