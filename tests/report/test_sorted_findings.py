"""Report order: violations, unknown, allowed, local; most bytes first; then by address."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from auditor.model import Finding, Judgement, Location, Verdict
from auditor.report.view import VERDICT_ORDER, sorted_findings
from tests.report.factory import endpoint, finding

_ROWS = st.lists(
    st.tuples(st.sampled_from(list(Verdict)), st.integers(0, 3), st.integers(0, 5)), max_size=40
)


@given(_ROWS)
def test_verdict_then_bytes_down_then_address(rows: list[tuple[Verdict, int, int]]) -> None:
    findings: list[Finding] = []
    for verdict, size, host in rows:
        found = finding(endpoint(f"192.0.2.{host}", bytes=size), Location(f"192.0.2.{host}"))
        findings.append(replace(found, judgement=Judgement(verdict, "r")))
    expected = sorted(
        findings,
        key=lambda f: (VERDICT_ORDER[f.judgement.verdict], -f.endpoint.bytes, f.endpoint.ip),
    )
    assert sorted_findings(findings) == expected
    assert sorted_findings(iter(findings)) == expected
