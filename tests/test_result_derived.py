"""AuditResult keeps its summary, completeness and failing findings once worked out: a copy
with other findings works them out anew."""

from __future__ import annotations

from dataclasses import replace

from auditor.model import ExitStatus, Location, OverallVerdict
from tests.report.factory import endpoint, finding, sample_result


def test_a_copy_with_other_findings_is_judged_on_them() -> None:
    result = sample_result()
    allowed = finding(endpoint("192.0.2.10", bytes=5), Location("", country="US"))
    assert result.verdict is OverallVerdict.FAIL  # worked out, and kept
    assert result.summary.endpoints == len(result.findings)
    clean = replace(result, findings=(allowed,), warnings=(), errors=(), strict_failures=())
    assert clean.summary.endpoints == 1
    assert clean.failing() == ()
    assert (clean.verdict, clean.exit_status) == (OverallVerdict.PASS, ExitStatus.OK)
    assert result.verdict is OverallVerdict.FAIL  # the original keeps its own
    assert result == replace(result)  # what is kept is no part of equality
