"""The JUnit report written a case at a time is the whole tree's indented serialization."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from auditor.model import AuditResult
from auditor.report.interface import RenderOptions
from auditor.report.junit import JunitFormat, build
from tests.report.factory import FIXED, batch_result, sample_result
from tests.report.test_many_endpoints import CountingStream, many


def _whole_tree(result: AuditResult, options: RenderOptions) -> str:
    """The document as one tree, indented and serialized at once (how it was made before)."""
    root = build(result, JunitFormat(options).render(result).split('timestamp="')[1][:19])
    ET.indent(root)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{ET.tostring(root, encoding="unicode")}\n'


CASES = {
    "sample": sample_result(),
    "batch": batch_result(),
    "many": many(),
    "no endpoint": replace(sample_result(), findings=()),
    "nothing after the endpoints": replace(sample_result(), captures=(), warnings=()),
    "neither": replace(sample_result(), findings=(), captures=(), warnings=()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_junit_is_the_whole_tree(case: str) -> None:
    result = CASES[case]
    stream = CountingStream()
    JunitFormat(FIXED).write(result, stream)
    assert stream.getvalue() == _whole_tree(result, FIXED)
    if len(result.findings) > 2:
        assert stream.writes > len(result.findings)
