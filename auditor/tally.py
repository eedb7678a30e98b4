"""What a run's verdict, summary and warnings read of its findings, counted once per kind.

Endpoints placed alike share one Judgement (policy/judge.py) and most findings carry no
acceptance, so a hundred thousand findings come in a few hundred kinds: a kind is a judgement
and an acceptance, each by identity. Whatever one finding gives (its verdict, severity, whether
it is accepted, whether it fails the run) is worked out once for its kind and counted as often
as the kind occurs. Two equal judgements that are distinct objects are two kinds: a little more
work, never another figure. The findings themselves are walked at C speed (map, zip, Counter,
compress); only the kinds are walked in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter, contains

from auditor.model import Acceptance, Finding, Judgement, LocationFlag, Policy, Severity

_JUDGEMENT = attrgetter("judgement")
_ACCEPTANCE = attrgetter("acceptance")
_PACKETS = attrgetter("endpoint.packets")
_BYTES = attrgetter("endpoint.bytes")
_FLAGS = attrgetter("location.flags")


@dataclass(frozen=True, slots=True)
class Kind:
    """One judgement and acceptance, and how many findings hold both (by identity)."""

    judgement: Judgement
    acceptance: Acceptance | None
    count: int

    @property
    def accepted(self) -> bool:
        """As Finding.accepted: a current exception or the baseline accepts these findings."""
        return self.acceptance is not None and self.acceptance.applies

    def fails(self, policy: Policy) -> bool:
        """At least as severe as the policy's fail_on, and not accepted."""
        severity = self.judgement.severity(policy)
        return severity is not None and severity.rank >= policy.fail_on.rank and \
            not self.accepted

    def let_pass(self, policy: Policy) -> bool:
        """Violations, not accepted, that --fail-on lets pass (less severe than it)."""
        severity = self.judgement.severity(policy)
        return severity is not None and severity is not Severity.UNKNOWN and \
            severity.rank < policy.fail_on.rank and not self.accepted


def _keys(findings: Sequence[Finding]) -> Iterable[tuple[int, int]]:
    """Each finding's judgement and acceptance by identity. The findings hold both while the
    keys are used, so an id cannot pass to another object meanwhile."""
    judgements, acceptances = map(_JUDGEMENT, findings), map(_ACCEPTANCE, findings)
    return zip(map(id, judgements), map(id, acceptances), strict=True)


def kinds(findings: Sequence[Finding]) -> tuple[Kind, ...]:
    """The findings' kinds, in the order each first occurs."""
    if not any(map(_ACCEPTANCE, findings)):  # none accepted (most runs): judgements alone
        judgements = list(map(_JUDGEMENT, findings))
        ids = list(map(id, judgements))
        held = dict(zip(ids, judgements, strict=True))
        return tuple(Kind(held[key], None, count) for key, count in Counter(ids).items())
    keys = list(_keys(findings))
    # A finding per key (the last with it; every one with it holds the same two objects).
    found = dict(zip(keys, findings, strict=True))
    return tuple(Kind(found[key].judgement, found[key].acceptance, count)
                 for key, count in Counter(keys).items())


@dataclass(frozen=True, slots=True)
class Tally:
    """What a result's verdict and summary read of its findings, counted once."""

    findings: tuple[Finding, ...]  # held: a result is given this tally only for these
    kinds: tuple[Kind, ...]
    packets: int
    bytes: int
    defective: bool  # a database's answer for one of them was defective

    @classmethod
    def of(cls, findings: tuple[Finding, ...]) -> Tally:
        return cls(
            findings, kinds(findings), sum(map(_PACKETS, findings)), sum(map(_BYTES, findings)),
            any(map(contains, map(_FLAGS, findings), repeat(LocationFlag.DEFECTIVE))),
        )

    def count(self, wanted: Callable[[Kind], bool]) -> int:
        """How many findings are of a kind `wanted` says yes to."""
        return sum(kind.count for kind in self.kinds if wanted(kind))

    def failing(self, policy: Policy) -> tuple[Finding, ...]:
        """The findings (in order) whose kind fails the run."""
        wanted = {(id(k.judgement), id(k.acceptance)) for k in self.kinds if k.fails(policy)}
        if not wanted:
            return ()
        return tuple(compress(self.findings, map(wanted.__contains__, _keys(self.findings))))
