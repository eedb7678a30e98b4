"""The SARIF report written a result at a time is the in-memory document's indent=2 encoding."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.model import AuditResult
from auditor.report.interface import RenderOptions
from auditor.report.sarif import SarifFormat, _encoded, document
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


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES, st.sampled_from(["", "  ", "        "]))
def test_each_result_is_encoded_as_json_indents_it(value: object, pad: str) -> None:
    """Any JSON value (NaN, infinities, control characters, empty containers) at any depth."""
    expected = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + pad)
    assert _encoded(value, pad) == expected


def test_a_key_that_is_not_a_string_is_refused_not_guessed() -> None:
    with pytest.raises(TypeError):
        _encoded({1: "one"}, "")
