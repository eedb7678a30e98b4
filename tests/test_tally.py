"""A result's verdict, summary and warnings counted once per kind of finding (auditor/tally.py)
equal what each finding gives on its own, written out plainly here."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.audit import AuditRequest, run_audit
from auditor.geo import discover_databases
from auditor.model import (
    Acceptance,
    AcceptedBy,
    AuditResult,
    Finding,
    Judgement,
    Location,
    LocationFlag,
    OverallVerdict,
    Policy,
    Role,
    RoleClaim,
    Severity,
    Verdict,
)
from auditor.policy import judge_findings, load_policy_file
from auditor.policy.exceptions import Baseline, accept, acceptance_warnings
from auditor.report.sections import capture_result
from auditor.tally import Tally
from tests.report.factory import capture, endpoint, policy

# Equal judgements as distinct objects (the first two of each), shared ones, and judgements
# alike but for the judged country (denied or not: another severity).
_JUDGEMENTS = [
    Judgement(Verdict.VIOLATION, "CN is denied", "CN"),
    Judgement(Verdict.VIOLATION, "CN is denied", "CN"),
    Judgement(Verdict.VIOLATION, "RU is outside", "RU"),
    Judgement(Verdict.VIOLATION, "RU is outside", "RU"),
    Judgement(Verdict.VIOLATION, "no country", None),
    Judgement(Verdict.UNKNOWN, "no database knows"),
    Judgement(Verdict.UNKNOWN, "no database knows"),
    Judgement(Verdict.ALLOWED, "US is allowed", "US"),
    Judgement(Verdict.LOCAL, "private"),
]
_ACCEPTANCES = [
    None,
    Acceptance(AcceptedBy.EXCEPTION, "asn 4134", "vendor relay", "2027-01-31"),
    Acceptance(AcceptedBy.EXCEPTION, "asn 4134", "vendor relay", "2025-01-31", expired=True),
    Acceptance(AcceptedBy.BASELINE, "old.json"),
]
DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo-meeting.pcap"
_PLAIN = Location("192.0.2.1")
_DEFECTIVE = Location("192.0.2.2", flags=(LocationFlag.DISPUTED, LocationFlag.DEFECTIVE))


def _severity(judgement: Judgement, pol: Policy) -> Severity | None:
    if judgement.verdict is Verdict.UNKNOWN:
        return Severity.UNKNOWN
    if judgement.verdict is not Verdict.VIOLATION:
        return None
    return Severity.DENIED if judgement.judged_country in pol.deny else Severity.OUTSIDE


def _accepted(finding: Finding) -> bool:
    return finding.acceptance is not None and not finding.acceptance.expired


def _fails(finding: Finding, pol: Policy) -> bool:
    severity = _severity(finding.judgement, pol)
    return severity is not None and severity.rank >= pol.fail_on.rank and not _accepted(finding)


def _let_pass(finding: Finding, pol: Policy) -> bool:
    severity = _severity(finding.judgement, pol)
    return severity in (Severity.OUTSIDE, Severity.DENIED) and severity is not None and \
        severity.rank < pol.fail_on.rank and not _accepted(finding)


def _expected(result: AuditResult) -> tuple[object, ...]:
    """Everything the tally gives, worked out finding by finding."""
    findings, pol = result.findings, result.policy
    verdicts = [f.judgement.verdict for f in findings]
    failing = tuple(f for f in findings if _fails(f, pol))
    defective = any(LocationFlag.DEFECTIVE in f.location.flags for f in findings)
    if failing:
        verdict = OverallVerdict.FAIL
    elif defective or Verdict.UNKNOWN in verdicts:
        verdict = OverallVerdict.INCOMPLETE
    else:
        verdict = OverallVerdict.PASS
    summary = (len(findings), *(verdicts.count(v) for v in Verdict),
               sum(f.endpoint.packets for f in findings), sum(f.endpoint.bytes for f in findings),
               sum(1 for f in findings if _accepted(f)))
    below = sum(1 for f in findings if _let_pass(f, pol))
    return summary, failing, not defective, verdict, below


def _actual(result: AuditResult) -> tuple[object, ...]:
    s = result.summary
    summary = (s.endpoints, s.allowed, s.violations, s.unknown, s.local, s.packets, s.bytes,
               s.accepted)
    warnings = acceptance_warnings(result.policy, Tally.of(result.findings), date(2026, 6, 1))
    passing = [line for line in warnings if "less severe than --fail-on" in line]
    below = int(passing[0].split()[0]) if passing else 0
    return summary, result.failing(), result.complete, result.verdict, below


_FINDING = st.tuples(
    st.integers(0, len(_JUDGEMENTS) - 1), st.integers(0, len(_ACCEPTANCES) - 1),
    st.integers(0, 10**12), st.integers(0, 10**15), st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    drawn=st.lists(_FINDING, max_size=40),
    deny=st.sampled_from(["", "CN"]),
    fail_on=st.sampled_from(list(Severity)),
)
def test_counted_per_kind_as_finding_by_finding(
    drawn: list[tuple[int, int, int, int, bool]], deny: str, fail_on: Severity,
) -> None:
    pol = replace(policy(deny=deny), fail_on=fail_on)
    findings = tuple(
        Finding(endpoint(f"192.0.2.{n % 250}", packets=packets, bytes=size),
                _DEFECTIVE if defective else _PLAIN, _JUDGEMENTS[j], acceptance=_ACCEPTANCES[a])
        for n, (j, a, packets, size, defective) in enumerate(drawn)
    )
    result = AuditResult(captures=(capture(),), databases=(), policy=pol, findings=findings)
    assert _actual(result) == _expected(result)


def test_role_rules_exceptions_and_the_baseline_count_as_finding_by_finding(
    tmp_path: Path,
) -> None:
    """Judged and accepted as an audit does: role rules make judgements of their own
    ("as media: ..."), exceptions and the baseline acceptances of their own."""
    path = tmp_path / "policy.toml"
    path.write_text(
        'allow = ["US", "EU"]\ndeny = ["CN"]\nfail_on = "denied"\n[roles]\nmedia = ["EU"]\n'
        '[[exception]]\nasn = 4134\njustification = "vendor relay"\nexpires = 2027-01-31\n'
        '[[exception]]\nasn = 4837\njustification = "old relay"\nexpires = 2025-01-31\n'
    )
    pol = load_policy_file(path)
    places = [("US", None), ("DE", None), ("CN", 4134), ("CN", 4837), ("CN", None),
              ("RU", None), (None, None)]
    roles = [(), (Role.MEDIA,), (Role.SIGNALLING,), (Role.MEDIA, Role.STUN)]
    endpoints, locations = [], []
    for n in range(200):
        country, asn = places[n % len(places)]
        ip = f"198.51.{n // 200}.{n % 200}"
        endpoints.append(endpoint(ip, packets=n, bytes=n * 7, roles=tuple(
            RoleClaim(role, "test") for role in roles[n % len(roles)])))
        locations.append(Location(ip, country=country, registered_country=country, asn=asn))
    judged = judge_findings(endpoints, locations, pol)
    baseline = Baseline("old.json", frozenset({("198.51.0.5", "RU"), ("198.51.0.12", "RU")}))
    findings = accept(judged, pol, date(2026, 6, 1), baseline)
    result = AuditResult(captures=(capture(),), databases=(), policy=pol, findings=findings)
    expected = _expected(result)
    assert _actual(result) == expected
    summary, failing, _, verdict, below = expected
    assert failing  # each figure is met, not zero by default
    assert below
    assert isinstance(summary, tuple)
    assert summary[-1]
    assert verdict is OverallVerdict.FAIL
    # Every field the tally reads decides something: the same findings under another policy.
    lenient = replace(result, policy=replace(pol, fail_on=Severity.UNKNOWN, deny=frozenset()))
    assert _actual(lenient) == _expected(lenient)


def test_a_tally_counts_only_the_findings_it_counted() -> None:
    pol = policy()
    violation = Finding(endpoint("192.0.2.1"), _PLAIN, _JUDGEMENTS[2])
    allowed = Finding(endpoint("192.0.2.1"), _PLAIN, _JUDGEMENTS[7])
    result = AuditResult(captures=(capture(),), databases=(), policy=pol, findings=(allowed,))
    other = Tally.of((violation,))
    assert result.tallied(other).verdict is OverallVerdict.PASS  # not the other findings'
    same = (allowed,)  # equal to the result's findings, yet another tuple: counted anew
    assert result.tallied(Tally.of(same)).tally() is not Tally.of(same)
    fresh = AuditResult(captures=(capture(),), databases=(), policy=pol, findings=same)
    given_tally = Tally.of(same)
    assert fresh.tallied(given_tally).tally() is given_tally


def test_a_one_capture_section_is_counted_with_the_run() -> None:
    """Its findings are the run's: counted once (a pass over every finding), not twice."""
    pol = policy()
    findings = (Finding(endpoint("192.0.2.1"), _PLAIN, _JUDGEMENTS[2]),
                Finding(endpoint("192.0.2.9"), _PLAIN, _JUDGEMENTS[7]))
    run = AuditResult(captures=(capture(),), databases=(), policy=pol, findings=findings,
                      warnings=("a database is old",))
    section = capture_result(run.captures[0], run)
    assert section is not run
    assert section.findings is run.findings
    assert section.tally() is run.tally()
    assert section.verdict is run.verdict is OverallVerdict.FAIL


def test_an_audit_counts_its_findings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tally its acceptance warnings counted is the result's, and its section's."""
    made: list[int] = []
    original = Tally.of.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Tally], findings: tuple[Finding, ...]) -> Tally:
        made.append(len(findings))
        return original(cls, findings)  # type: ignore[no-any-return]

    monkeypatch.setattr(Tally, "of", classmethod(counted))
    request = AuditRequest((str(DEMO),), tuple(discover_databases([], {})), policy(),
                           now=time.time(), max_db_age_days=0)
    result = run_audit(request)
    assert result.warnings  # a database older than a day: the section is not the run itself
    assert result.verdict is OverallVerdict.FAIL
    assert result.summary.violations
    assert capture_result(result.captures[0], result).verdict is OverallVerdict.FAIL
    assert made == [len(result.findings)]
