"""Policy exceptions and the baseline: known, justified findings that do not fail a run.

An exception matches a violation by address or CIDR block, ASN, host-name pattern or platform,
and carries a justification and an expiry date. Past that date it no longer applies: the
finding fails the run again and the report says which exception expired. Only violations are
accepted: an endpoint nobody could place was never judged, so no exception makes it pass.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path

from auditor.errors import PolicyError
from auditor.model import (
    Acceptance,
    AcceptedBy,
    ExceptionKind,
    Finding,
    Policy,
    PolicyException,
    Verdict,
)
from auditor.tally import Tally

EXCEPTION_KEYS = frozenset({"justification", "expires"} | {k.value for k in ExceptionKind})
MAX_JUSTIFICATION = 1000


@dataclass(frozen=True, slots=True)
class Baseline:
    """The violations of an earlier report (--baseline): (address, judged country) pairs."""

    path: str
    known: frozenset[tuple[str, str | None]]


def parse_exceptions(value: object, path: Path) -> tuple[PolicyException, ...]:
    """The policy file's [[exception]] tables."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PolicyError(f"{path}: 'exception' must be tables: [[exception]]")
    return tuple(_exception(table, f"{path}: exception {n}", path) for n, table in
                 enumerate(value, start=1))


def _exception(table: Mapping[str, object], where: str, path: Path) -> PolicyException:
    unknown = sorted(set(table) - EXCEPTION_KEYS)
    if unknown:
        known = ", ".join(sorted(EXCEPTION_KEYS))
        raise PolicyError(f"{where}: unknown key {unknown[0]!r} (known keys: {known})")
    kinds = [kind for kind in ExceptionKind if kind.value in table]
    if len(kinds) != 1:
        raise PolicyError(f"{where}: give exactly one of address, asn, hostname, platform")
    kind = kinds[0]
    match = _match(kind, table[kind.value], where)
    justification = table.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        raise PolicyError(f"{where}: 'justification' must say why the finding is accepted")
    if len(justification) > MAX_JUSTIFICATION:
        raise PolicyError(f"{where}: 'justification' is longer than {MAX_JUSTIFICATION} characters")
    expires = table.get("expires")
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError:
            expires = None
    if not isinstance(expires, date) or hasattr(expires, "hour"):
        raise PolicyError(f"{where}: 'expires' must be a date (expires = 2027-01-31): "
                          "every exception ends")
    return PolicyException(kind, match, justification.strip(), expires.isoformat())


def _match(kind: ExceptionKind, value: object, where: str) -> str:
    if kind is ExceptionKind.ASN:
        text = str(value).upper().removeprefix("AS") if isinstance(value, int | str) else ""
        if isinstance(value, bool) or not text.isdigit():
            raise PolicyError(f"{where}: 'asn' must be a number (asn = 4134)")
        return str(int(text))
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}: {kind.value!r} must be a non-empty string")
    if kind is ExceptionKind.ADDRESS:
        try:
            return str(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as error:
            raise PolicyError(f"{where}: 'address' {value!r} is no address or CIDR block") \
                from error
    return value.strip()


def matches(exception: PolicyException, finding: Finding) -> bool:
    return _matcher(exception)(finding)


def _matcher(exception: PolicyException) -> Callable[[Finding], bool]:
    """Whether an exception matches a finding, with what it matches by made ready once."""
    if exception.kind is ExceptionKind.ADDRESS:
        network = ipaddress.ip_network(exception.match)
        return lambda finding: _within(finding.endpoint.ip, network)
    if exception.kind is ExceptionKind.ASN:
        return lambda finding: finding.location.asn is not None and \
            str(finding.location.asn) == exception.match
    if exception.kind is ExceptionKind.HOSTNAME:
        pattern = exception.match.lower()
        return lambda finding: any(fnmatchcase(name.lower().rstrip("."), pattern)
                                   for name in finding.endpoint.hostnames)
    # Exactly the attributed platform: "Zoom? (port hint)" is a guess, not Zoom.
    platform = exception.match.casefold()
    return lambda finding: finding.endpoint.platform is not None and \
        finding.endpoint.platform.casefold() == platform


def _within(ip: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    address = ipaddress.ip_address(ip)
    return address.version == network.version and address in network


def expired(exception: PolicyException, today: date | None) -> bool:
    """Past its date, or no date to check it against (fail closed)."""
    return today is None or today > date.fromisoformat(exception.expires)


@dataclass(frozen=True, slots=True)
class _Rule:
    """An exception made ready for many findings: matched as _matcher makes it, its date
    checked once, and one acceptance shared by every finding it accepts (a frozen record; the
    tally then counts them as one kind)."""

    matches: Callable[[Finding], bool]
    expired: bool
    acceptance: Acceptance


def _rule(exception: PolicyException, today: date | None) -> _Rule:
    past = expired(exception, today)
    return _Rule(_matcher(exception), past, _acceptance(exception, expired=past))


def accept(
    findings: Sequence[Finding], policy: Policy, today: date | None,
    baseline: Baseline | None = None,
) -> tuple[Finding, ...]:
    """Each violation with the first exception that matches it (applied, or shown as
    expired), else the baseline's acceptance when the baseline knew it."""
    if not policy.exceptions and baseline is None:
        return tuple(findings)
    rules = [_rule(e, today) for e in policy.exceptions]
    known = None if baseline is None else \
        (baseline.known, Acceptance(AcceptedBy.BASELINE, baseline.path))
    return tuple(_accepted(f, rules, known) for f in findings)


def _accepted(finding: Finding, rules: Sequence[_Rule],
              known: tuple[frozenset[tuple[str, str | None]], Acceptance] | None) -> Finding:
    if finding.judgement.verdict is not Verdict.VIOLATION:
        return finding
    found = [rule for rule in rules if rule.matches(finding)]
    current = [rule for rule in found if not rule.expired]
    if current:
        return _with(finding, current[0].acceptance)
    key = (finding.endpoint.ip, finding.judgement.judged_country)
    if known is not None and key in known[0]:
        return _with(finding, known[1])
    if found:  # each of them expired
        return _with(finding, found[0].acceptance)
    return finding


def _acceptance(exception: PolicyException, *, expired: bool) -> Acceptance:
    return Acceptance(AcceptedBy.EXCEPTION, exception.label, exception.justification,
                      exception.expires, expired=expired)


def _with(finding: Finding, acceptance: Acceptance) -> Finding:
    return dataclasses.replace(finding, acceptance=acceptance)


def acceptance_warnings(policy: Policy, tally: Tally, today: date | None) -> tuple[str, ...]:
    """One line per expired exception (it no longer hides its findings), and one for the
    violations --fail-on lets pass (`tally` counts the findings)."""
    lines = [
        f"policy exception {e.label} expired on {e.expires}: it no longer applies "
        f"({e.justification})"
        for e in policy.exceptions if expired(e, today)
    ]
    below = tally.count(lambda kind: kind.let_pass(policy))
    if below:
        lines.append(f"{below} violation{'s' if below != 1 else ''} less severe than "
                     f"--fail-on {policy.fail_on.value} do not fail this run")
    return tuple(lines)
