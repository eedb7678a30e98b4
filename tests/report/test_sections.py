"""A report's capture sections: one capture's section is the run itself."""

from __future__ import annotations

from dataclasses import replace

from auditor.report.sections import capture_result, capture_sections
from tests.report.factory import batch_result, sample_result


def test_the_section_of_a_one_capture_run_is_the_run() -> None:
    """Its summary and verdict, a pass over every finding each, are then worked out once."""
    result = sample_result()
    assert len(result.captures) == 1
    (section,) = capture_sections(result)
    assert section.result is result


def test_a_one_capture_run_with_warnings_is_cut_to_its_capture() -> None:
    result = replace(sample_result(), warnings=("stale geolocation data",))
    own = capture_result(result.captures[0], result)
    assert own is not result
    assert own.warnings == ()
    assert own.findings is result.findings
    assert (own.verdict, own.summary) == (result.verdict, result.summary)


def test_each_capture_of_a_batch_has_its_own_findings() -> None:
    result = batch_result()
    for section in capture_sections(result):
        assert section.result is not result
        assert all(section.capture.path in f.endpoint.captures for f in section.result.findings)
