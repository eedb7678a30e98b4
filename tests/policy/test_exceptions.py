"""Policy exceptions (with expiry), severity, --fail-on and --baseline, in the stage and through
the command line on the demo meeting (its relay in China is the one violation)."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import Environment, main
from auditor.errors import PolicyError
from auditor.model import (
    AcceptedBy,
    AuditResult,
    Finding,
    Location,
    OverallVerdict,
    Policy,
    Severity,
)
from auditor.policy import load_policy_file
from auditor.policy.exceptions import Baseline, accept
from tests.report.factory import capture, endpoint, finding, policy

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo-meeting.pcap"
RELAY = "113.96.232.215"  # the demo's media relay in China
TODAY = date(2026, 11, 30)


def write_policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text('allow = ["US", "EU"]\n' + body, encoding="utf-8")
    return path


def relay_finding(pol: Policy, **kwargs: Any) -> Finding:
    ep = endpoint("203.0.113.50", hostnames=("relay.example-cn.net",), **kwargs)
    return finding(ep, Location("203.0.113.50", country="CN", asn=4134), pol)


def result(pol: Policy, *findings: Finding) -> AuditResult:
    return AuditResult(captures=(capture(),), databases=(), policy=pol, findings=findings)


@pytest.mark.parametrize("matcher", [
    'address = "203.0.113.0/24"', 'address = "203.0.113.50"', "asn = 4134", 'asn = "AS4134"',
    'hostname = "*.example-cn.net"', 'platform = "Zoom"',
])
def test_each_kind_of_exception_accepts_its_violation_until_it_expires(
    tmp_path: Path, matcher: str
) -> None:
    pol = load_policy_file(write_policy(tmp_path, f"""
[[exception]]
{matcher}
justification = "vendor relay, contract 42"
expires = 2026-12-31
"""))
    relay = relay_finding(pol, platform="Zoom")
    (current,) = accept([relay], pol, TODAY)
    assert current.accepted
    assert current.acceptance is not None
    assert current.acceptance.justification == "vendor relay, contract 42"
    assert result(pol, current).verdict is OverallVerdict.PASS
    (later,) = accept([relay], pol, date(2027, 1, 1))
    assert not later.accepted  # past its date: the finding fails the run again
    assert later.acceptance is not None
    assert later.acceptance.expired
    assert result(pol, later).verdict is OverallVerdict.FAIL
    (last_day,) = accept([relay], pol, date(2026, 12, 31))
    assert last_day.accepted  # the expiry day itself is still covered


def test_a_port_hint_is_not_the_platform_an_exception_names(tmp_path: Path) -> None:
    pol = load_policy_file(write_policy(tmp_path, """
[[exception]]
platform = "Zoom"
justification = "Zoom's relays"
expires = 2099-01-01
"""))
    (guess,) = accept([relay_finding(pol, platform="Zoom? (port hint)")], pol, TODAY)
    assert not guess.accepted


def test_no_exception_makes_an_unjudged_endpoint_pass(tmp_path: Path) -> None:
    pol = load_policy_file(write_policy(tmp_path, """
[[exception]]
address = "192.0.2.0/24"
justification = "lab"
expires = 2099-01-01
"""))
    unknown = finding(endpoint("192.0.2.77"), Location("192.0.2.77"), pol)
    (kept,) = accept([unknown], pol, TODAY)
    assert kept.acceptance is None
    assert result(pol, kept).verdict is OverallVerdict.INCOMPLETE


def test_without_a_date_to_check_no_exception_applies(tmp_path: Path) -> None:
    pol = load_policy_file(write_policy(tmp_path, """
[[exception]]
asn = 4134
justification = "x"
expires = 2099-01-01
"""))
    (relay,) = accept([relay_finding(pol)], pol, None)
    assert not relay.accepted


@pytest.mark.parametrize(("body", "message"), [
    ('[[exception]]\naddress = "10.0.0.0/8"\njustification = "x"\n', "'expires' must be a date"),
    ('[[exception]]\nasn = 1\naddress = "10.0.0.1"\njustification = "x"\nexpires = 2027-01-01\n',
     "exactly one of"),
    ('[[exception]]\naddress = "10.0.0.0/33"\njustification = "x"\nexpires = 2027-01-01\n',
     "no address or CIDR"),
    ('[[exception]]\nasn = 1\nexpires = 2027-01-01\n', "'justification'"),
    ('[[exception]]\nasn = 1\njustification = "x"\nexpires = 2027-13-01\n', "not a valid TOML"),
    ('[[exception]]\nasn = 1\njustification = "x"\nexpires = "soon"\n', "'expires' must be"),
    ('[[exception]]\nasn = 1\njustification = "x"\nexpires = 2027-01-01T00:00:00\n',
     "'expires' must be a date"),
    ('[[exception]]\nasn = "one"\njustification = "x"\nexpires = 2027-01-01\n', "'asn' must"),
    ('[[exception]]\nasn = 1\njustification = "x"\nexpires = 2027-01-01\nports = 1\n',
     "unknown key 'ports'"),
    ('exception = 1\n', "[[exception]]"),
    ('fail_on = "sometimes"\n', "fail_on"),
])
def test_a_bad_exception_is_one_line_naming_the_file(tmp_path: Path, body: str,
                                                     message: str) -> None:
    path = write_policy(tmp_path, body)
    with pytest.raises(PolicyError) as raised:
        load_policy_file(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_severity_denied_outside_unknown_and_fail_on() -> None:
    pol = policy(deny="CN")
    denied = finding(endpoint("203.0.113.50"), Location("203.0.113.50", country="CN"), pol)
    outside = finding(endpoint("203.0.113.51"), Location("203.0.113.51", country="BR"), pol)
    unknown = finding(endpoint("192.0.2.77"), Location("192.0.2.77"), pol)
    assert [f.severity(pol) for f in (denied, outside, unknown)] == [
        Severity.DENIED, Severity.OUTSIDE, Severity.UNKNOWN]
    assert Severity.DENIED.rank > Severity.OUTSIDE.rank > Severity.UNKNOWN.rank

    def verdict(fail_on: Severity, *findings: Finding) -> OverallVerdict:
        chosen = Policy(allow=pol.allow, deny=pol.deny, allow_spec=pol.allow_spec,
                        deny_spec=pol.deny_spec, fail_on=fail_on)
        return result(chosen, *findings).verdict

    assert verdict(Severity.DENIED, outside) is OverallVerdict.PASS
    assert verdict(Severity.DENIED, denied) is OverallVerdict.FAIL
    assert verdict(Severity.OUTSIDE, outside) is OverallVerdict.FAIL
    # Fail closed: an unknown is never a pass; under --fail-on unknown it fails the run.
    assert verdict(Severity.DENIED, outside, unknown) is OverallVerdict.INCOMPLETE
    assert verdict(Severity.OUTSIDE, unknown) is OverallVerdict.INCOMPLETE
    assert verdict(Severity.UNKNOWN, unknown) is OverallVerdict.FAIL


def test_the_baseline_accepts_only_what_it_knew() -> None:
    pol = policy()
    relay = relay_finding(pol)
    known = Baseline("base.json", frozenset({("203.0.113.50", "CN")}))
    (accepted,) = accept([relay], pol, TODAY, known)
    assert accepted.acceptance is not None
    assert accepted.acceptance.by is AcceptedBy.BASELINE
    moved = Baseline("base.json", frozenset({("203.0.113.50", "RU")}))
    (new,) = accept([relay], pol, TODAY, moved)
    assert not new.accepted  # the same address, now judged in another country: new


def test_many_findings_accepted_as_one_by_one_and_sharing_each_acceptance(
    tmp_path: Path,
) -> None:
    """First current exception, else the baseline, else the first expired one, for each
    violation; every finding one exception (or the baseline) accepts holds one Acceptance."""
    pol = load_policy_file(write_policy(tmp_path, """
[[exception]]
address = "203.0.113.0/25"
justification = "old block"
expires = 2020-01-01
[[exception]]
asn = 4134
justification = "vendor relay"
expires = 2099-01-01
[[exception]]
hostname = "*.example-cn.net"
justification = "names"
expires = 2020-01-01
"""))
    findings = []
    for n in range(200):
        ip = f"203.0.113.{n}"
        names = ("relay.example-cn.net",) if n % 3 == 0 else ()
        place = Location(ip, country="CN" if n % 4 else "US", asn=4134 if n % 5 == 0 else 7)
        findings.append(finding(endpoint(ip, hostnames=names), place, pol))
    known = Baseline("base.json", frozenset({(f"203.0.113.{n}", "CN") for n in range(0, 200, 7)}))
    accepted = accept(findings, pol, TODAY, known)
    kinds: dict[tuple[str, bool], set[int]] = {}
    for before, after in zip(findings, accepted, strict=True):
        assert after.endpoint is before.endpoint
        n = int(before.endpoint.ip.rsplit(".", 1)[1])
        violation = before.judgement.verdict.value == "violation"
        expected = None
        if violation and before.location.asn == 4134:
            expected = ("asn 4134", False)
        elif violation and (before.endpoint.ip, "CN") in known.known:
            expected = ("base.json", False)
        elif violation and n < 128:
            expected = ("address 203.0.113.0/25", True)
        elif violation and before.endpoint.hostnames:
            expected = ("hostname *.example-cn.net", True)
        got = after.acceptance
        assert (None if got is None else (got.rule, got.expired)) == expected
        if got is not None:
            kinds.setdefault((got.rule, got.expired), set()).add(id(got))
    assert len(kinds) == 4  # every way to be accepted is met
    assert all(len(objects) == 1 for objects in kinds.values())


def audit(*argv: str | Path) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, env={}, stdout_isatty=False, stderr_isatty=False)
    status = main([str(DEMO), "--format", "json", "--max-db-age", "1e9", *map(str, argv)], env)
    document: dict[str, Any] = json.loads(out.getvalue()) if out.getvalue() else {}
    return status, document, err.getvalue()


def relay_of(document: dict[str, Any]) -> dict[str, Any]:
    (relay,) = (e for e in document["endpoints"] if e["ip"] == RELAY)
    found: dict[str, Any] = relay
    return found


def test_an_expired_exception_no_longer_hides_its_finding(tmp_path: Path) -> None:
    body = '[[exception]]\naddress = "113.96.232.0/24"\njustification = "pilot with vendor"\n'
    current = write_policy(tmp_path, body + "expires = 2999-12-31\n")
    status, document, _ = audit("--policy", current)
    assert status == 0
    assert relay_of(document)["acceptance"]["applies"] is True
    assert document["summary"]["accepted"] == 1
    past = tmp_path / "past.toml"
    past.write_text('allow = ["US", "EU"]\n' + body + "expires = 2020-01-31\n", encoding="utf-8")
    status, document, err = audit("--policy", past)
    assert status == 1
    assert relay_of(document)["acceptance"]["applies"] is False
    assert document["verdict"] == "fail"
    said = "policy exception address 113.96.232.0/24 expired on 2020-01-31"
    assert any(said in w for w in document["warnings"])
    assert said in err


def test_fail_on_denied_lets_an_outside_finding_pass_but_not_a_denied_one() -> None:
    status, document, _ = audit("--allow", "US,EU", "--fail-on", "denied")
    assert status == 0
    assert relay_of(document)["severity"] == "outside"
    assert document["policy"]["fail_on"] == "denied"
    status, document, _ = audit("--allow", "US,EU", "--deny", "CN", "--fail-on", "denied")
    assert status == 1
    assert relay_of(document)["severity"] == "denied"


def test_only_new_findings_fail_against_a_baseline(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    status, document, _ = audit("--allow", "US,EU", "-o", base)
    assert status == 1
    status, document, _ = audit("--allow", "US,EU", "--baseline", base)
    assert status == 0
    assert relay_of(document)["acceptance"]["by"] == "baseline"
    status, _, _ = audit("--allow", "US", "--baseline", base)  # Germany is new: it fails
    assert status == 1


@pytest.mark.parametrize("content", [b"", b"{}", b"[1]", b'{"schema": "other"}', b"\xff"])
def test_a_bad_baseline_is_one_line_and_exit_2(tmp_path: Path, content: bytes) -> None:
    base = tmp_path / "base.json"
    base.write_bytes(content)
    status, _, err = audit("--allow", "US,EU", "--baseline", base)
    assert status == 2
    assert err.startswith(f"audit: error: {base}: ") or f"{base}: " in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_history_keeps_why_a_violation_was_accepted(tmp_path: Path) -> None:
    body = '[[exception]]\nasn = 4134\njustification = "pilot with vendor"\n'
    current = write_policy(tmp_path, body + "expires = 2999-12-31\n")
    history = tmp_path / "history.db"
    status, _, _ = audit("--policy", current, "--history", history)
    assert status == 0
    out = io.StringIO()
    env = Environment(stdout=out, stderr=io.StringIO(), env={}, stdout_isatty=False,
                      stderr_isatty=False)
    assert main(["history", "--history", str(history), "--format", "json"], env) == 0
    text = out.getvalue()
    assert "accepted by exception asn 4134 until 2999-12-31 (pilot with vendor)" in text
