"""The policy stage's records: the policy (rules, roles, exceptions, severity) and the judgement
of one endpoint; re-exported by auditor.model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from auditor.evidence_records import Vantage
from auditor.role_records import Role


class Verdict(StrEnum):
    ALLOWED = "allowed"
    VIOLATION = "violation"
    UNKNOWN = "unknown"
    LOCAL = "local"


class JudgeBy(StrEnum):
    LOCATION = "location"
    REGISTRATION = "registration"
    BOTH = "both"


class Severity(StrEnum):
    """How bad a finding is, most severe first: --fail-on picks the least that fails a run."""

    DENIED = "denied"  # in a country the policy denies
    OUTSIDE = "outside"  # outside the allowed list
    UNKNOWN = "unknown"  # not placed: never judged

    @property
    def rank(self) -> int:
        return {Severity.DENIED: 3, Severity.OUTSIDE: 2, Severity.UNKNOWN: 1}[self]


class ExceptionKind(StrEnum):
    """What a policy exception matches."""

    ADDRESS = "address"  # an address or CIDR block
    ASN = "asn"
    HOSTNAME = "hostname"  # a shell pattern over the names seen for the endpoint
    PLATFORM = "platform"  # the attributed platform, exactly (never a port hint)


@dataclass(frozen=True, slots=True)
class PolicyException:
    """A known, justified finding accepted until a date (the policy file's [[exception]])."""

    kind: ExceptionKind
    match: str  # as written: "203.0.113.0/24", "4134", "*.example.net", "Zoom"
    justification: str
    expires: str  # ISO date; the exception applies up to and including that day (UTC)

    @property
    def label(self) -> str:
        return f"{self.kind.value} {self.match}"


@dataclass(frozen=True, slots=True)
class RoleRule:
    """A policy's own jurisdictions for one role (``[roles] media = ["EU"]``)."""

    role: Role
    allow: frozenset[str]
    allow_spec: tuple[str, ...]  # as the user wrote it


@dataclass(frozen=True, slots=True)
class Policy:
    """Allowed and denied jurisdictions, already expanded to ISO 3166 alpha-2 codes."""

    allow: frozenset[str]
    deny: frozenset[str] = frozenset()
    allow_spec: tuple[str, ...] = ()  # as the user wrote it ("US", "EU")
    deny_spec: tuple[str, ...] = ()
    strict: bool = False  # unknown locations (and stale databases) count as violations
    judge_by: JudgeBy = JudgeBy.LOCATION
    vantage: Vantage | None = None  # where the captures were taken, if the policy file says
    # Roles with jurisdictions of their own; every other role is judged by allow/deny. An
    # endpoint with several roles must satisfy each of them.
    roles: tuple[RoleRule, ...] = ()
    exceptions: tuple[PolicyException, ...] = ()  # accepted findings, each until its expiry
    fail_on: Severity = Severity.OUTSIDE  # the least severe finding that fails the run


class AcceptedBy(StrEnum):
    EXCEPTION = "exception"
    BASELINE = "baseline"  # --baseline: seen in an earlier report, so not new


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Why a violation does not fail the run, or (expired) why it no longer is accepted."""

    by: AcceptedBy
    rule: str  # what matched: "address 203.0.113.0/24", or the baseline report's path
    justification: str = ""
    expires: str | None = None
    expired: bool = False  # an exception past its date: shown, but no longer applied

    @property
    def applies(self) -> bool:
        return not self.expired


class Basis(StrEnum):
    """What a judgement rested on. New kinds of evidence add members; reports print the value."""

    COUNTRY = "country"  # the located country
    REGISTERED_COUNTRY = "registered_country"  # the country the network is registered in
    BOTH = "country+registered_country"  # --judge-by both, and both were known
    ANSWERS = "answers"  # anycast or disputed: every database's answer together
    ADDRESS_CLASS = "address_class"  # a local address, never looked up
    RTT = "rtt"  # physics alone: every country within the round trip's reach gives one verdict


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str  # the rule that decided, in words: "CN is outside the allowed jurisdictions (US)"
    judged_country: str | None = None
    basis: Basis | None = None  # None: nothing to judge by (an unknown with no country)

    def severity(self, policy: Policy) -> Severity | None:
        """Denied > outside the allowed list > unknown; None for allowed and local."""
        if self.verdict is Verdict.UNKNOWN:
            return Severity.UNKNOWN
        if self.verdict is not Verdict.VIOLATION:
            return None
        judged = self.judged_country
        return Severity.DENIED if judged is not None and judged in policy.deny else \
            Severity.OUTSIDE
