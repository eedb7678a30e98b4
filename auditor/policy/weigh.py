"""The verdict rule when there is evidence beyond the databases (round trips, hostname hints).

A country is used only if no round trip refutes it and at least one source supports it:
- every country physics leaves possible is allowed: allowed by physics alone (basis rtt);
  every one is outside the policy: a violation by physics alone;
- otherwise the unrefuted database answers and hostname hints are weighed: one country, judged
  as usual; several, judged only when every one gives the same verdict (else unknown, disputed);
- none left (every database answer refuted): unknown. A hint alone never decides.
Judging by registration is a legal fact, not a place: physics does not apply to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor.geo.physics import located_countries
from auditor.model import (
    Basis,
    Evidence,
    EvidenceSource,
    JudgeBy,
    Judgement,
    Location,
    LocationFlag,
    Policy,
    Verdict,
)
from auditor.policy.judge import judge, rule


def weigh(location: Location, evidence: Evidence, policy: Policy) -> Judgement:
    """The verdict on one endpoint from its location and its evidence."""
    if (
        location.is_local
        or LocationFlag.DEFECTIVE in location.flags  # a broken database: nothing to weigh
        or policy.judge_by is not JudgeBy.LOCATION
        or not _telling(evidence)
    ):
        return judge(location, policy)
    anycast = location.is_anycast or LocationFlag.ANYCAST in location.flags
    judgement = _by_physics(evidence, policy, anycast=anycast) or _by_sources(
        location, evidence, policy
    )
    if judgement.verdict is Verdict.UNKNOWN and policy.strict:
        reason = f"{judgement.reason} (--strict counts unknown locations as violations)"
        return Judgement(Verdict.VIOLATION, reason, judgement.judged_country, judgement.basis)
    return judgement


def _telling(evidence: Evidence) -> bool:
    return bool(evidence.bounds or evidence.hints)


def _by_physics(evidence: Evidence, policy: Policy, *, anycast: bool) -> Judgement | None:
    possible = evidence.possible
    if not possible:
        return None
    verdicts = {code: rule(code, policy)[0] for code in sorted(possible)}
    listed = ", ".join(verdicts)
    reach = _reach(evidence)
    if anycast:  # the bound holds for the instance this vantage reached, no other
        reach += " (anycast: depends on vantage)"
    if all(v is Verdict.ALLOWED for v in verdicts.values()):
        reason = f"the round trip puts it within {reach}, where every country ({listed}) is allowed"
        return Judgement(Verdict.ALLOWED, reason, judged_country=None, basis=Basis.RTT)
    if all(v is Verdict.VIOLATION for v in verdicts.values()):
        reason = (
            f"the round trip puts it within {reach}, where every country ({listed}) is outside "
            "the policy"
        )
        return Judgement(Verdict.VIOLATION, reason, judged_country=None, basis=Basis.RTT)
    return None


def _reach(evidence: Evidence) -> str:
    tightest = min(evidence.bounds, key=lambda b: b.radius_km)
    ms = tightest.round_trip.seconds * 1000
    return f"{tightest.radius_km:,.0f} km of the vantage ({tightest.vantage.label}, {ms:.1f} ms)"


def _by_sources(location: Location, evidence: Evidence, policy: Policy) -> Judgement:
    refuted = {r.country for r in evidence.refutations if r.source is EvidenceSource.DATABASE}
    answers = located_countries(location)
    kept = [c for c in answers if c not in refuted]
    hinted = [h.country for h in evidence.hints if not h.refuted]
    note = _refutation_note(refuted)
    if answers and not kept:
        extra = f"; a hostname hint says {', '.join(dict.fromkeys(hinted))}" if hinted else ""
        reason = f"{note}{extra}: no unrefuted database answer, so where it is cannot be told"
        return Judgement(Verdict.UNKNOWN, reason, basis=Basis.RTT)
    if not answers:
        base = judge(location, policy)
        if hinted:
            reason = f"{base.reason}; a hostname hint says {', '.join(dict.fromkeys(hinted))}"
            return Judgement(base.verdict, reason, base.judged_country, base.basis)
        return base
    codes = list(dict.fromkeys(kept + hinted))
    if len(codes) == 1 and not refuted and not _uncertain(location):
        return judge(location, policy)
    return _unanimous(codes, hinted, note, policy, location)


def _uncertain(location: Location) -> bool:
    flags = location.flags
    return location.is_anycast or LocationFlag.ANYCAST in flags or LocationFlag.DISPUTED in flags


def _refutation_note(refuted: set[str]) -> str:
    if not refuted:
        return ""
    return f"the round trip refutes {', '.join(sorted(refuted))}"


def _unanimous(
    codes: Sequence[str], hinted: Sequence[str], note: str, policy: Policy, location: Location
) -> Judgement:
    verdicts = [rule(code, policy)[0] for code in codes]
    what = "databases and hostname hints" if hinted else "databases"
    if location.is_anycast or LocationFlag.ANYCAST in location.flags:
        what = f"anycast address (depends on vantage): {what}"
    listed = ", ".join(codes)
    prefix = f"{note}; " if note else ""
    basis = Basis.ANSWERS if len(codes) > 1 else Basis.COUNTRY
    if all(v is Verdict.ALLOWED for v in verdicts):
        reason = f"{prefix}{what} give {listed}: every one is allowed"
        return Judgement(Verdict.ALLOWED, reason, judged_country=codes[0], basis=basis)
    if all(v is Verdict.VIOLATION for v in verdicts) and "anycast" not in what:
        reason = f"{prefix}{what} give {listed}: every one is outside the policy"
        return Judgement(Verdict.VIOLATION, reason, judged_country=codes[0], basis=basis)
    reason = (
        f"{prefix}{what} give {listed} (disputed): not every one is allowed, so where it is "
        "cannot be told"
    )
    return Judgement(Verdict.UNKNOWN, reason, judged_country=None, basis=basis)
