"""Judges each located server endpoint against a policy: allowed, violation, unknown or local."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from operator import attrgetter

from auditor.countries import is_country_code
from auditor.model import (
    Basis,
    CountryAnswer,
    Evidence,
    Finding,
    JudgeBy,
    Judgement,
    Location,
    LocationFlag,
    Policy,
    ServerEndpoint,
    Verdict,
    build_finding,
)
from auditor.policy.groups import expand

COUNTRY = Basis.COUNTRY
REGISTERED = Basis.REGISTERED_COUNTRY

_LABELS = {COUNTRY: "located in", REGISTERED: "registered in"}


@dataclass(frozen=True, slots=True)
class _Basis:
    """One country code to judge, and where it came from."""

    source: Basis  # COUNTRY or REGISTERED
    code: str


def _covering(code: str, spec: Iterable[str]) -> list[str]:
    return [item for item in spec if code in (expand(item) or frozenset())]


def rule(code: str, policy: Policy) -> tuple[Verdict, str]:
    """The verdict for one country code, and the rule that decided it, in words."""
    if code in policy.deny:
        return (
            Verdict.VIOLATION,
            f"{code} is denied ({', '.join(_covering(code, policy.deny_spec))})",
        )
    if code in policy.allow:
        if not policy.allow_spec:
            return Verdict.ALLOWED, f"{code} is not denied ({', '.join(policy.deny_spec)})"
        return (
            Verdict.ALLOWED,
            f"{code} is allowed ({', '.join(_covering(code, policy.allow_spec))})",
        )
    allowed = ", ".join(policy.allow_spec)
    return Verdict.VIOLATION, f"{code} is outside the allowed jurisdictions ({allowed})"


def _code(value: str | None) -> str | None:
    return value if value is not None and is_country_code(value) else None


def _bases(country: str | None, registered: str | None, judge_by: JudgeBy) -> list[_Basis]:
    """What to judge: the chosen country, falling back to the other one when it is missing."""
    located = [_Basis(COUNTRY, c) for c in (_code(country),) if c]
    registered_ = [_Basis(REGISTERED, c) for c in (_code(registered),) if c]
    if judge_by is JudgeBy.BOTH:
        return located + registered_
    first, second = (located, registered_)
    if judge_by is JudgeBy.REGISTRATION:
        first, second = second, first
    return first or second


def _wanted_source(judge_by: JudgeBy) -> Basis:
    return REGISTERED if judge_by is JudgeBy.REGISTRATION else COUNTRY


def _judge_bases(bases: list[_Basis], policy: Policy) -> Judgement:
    judged = [(basis, *rule(basis.code, policy)) for basis in bases]
    deciding = next((j for j in judged if j[1] is Verdict.VIOLATION), judged[0])
    basis, verdict, reason = deciding
    if policy.judge_by is JudgeBy.BOTH:
        reason = "; ".join(f"{_LABELS[b.source]} {b.code}: {r}" for b, _, r in judged)
        if len(bases) == 1:
            reason += f" (only the {_LABELS[basis.source].split()[0]} country is known)"
        source = Basis.BOTH if len(bases) == 2 else basis.source
    else:
        source = basis.source
        if source != _wanted_source(policy.judge_by):
            missing = "located" if source == REGISTERED else "registered"
            reason = (
                f"no {missing} country known, judged by {_LABELS[source]} {basis.code}: {reason}"
            )
    return Judgement(verdict, reason, judged_country=basis.code, basis=source)


def _no_country(location: Location) -> Judgement:
    if location.answers or location.asn is not None:
        reason = f"no country is known for {location.ip}"
    else:
        reason = f"no database knows where {location.ip} is"
    return Judgement(Verdict.UNKNOWN, reason)


def _answer_codes(location: Location, judge_by: JudgeBy) -> list[str]:
    """Every distinct country the databases give, of the kind judged, in the order given.

    The fallback to the other kind applies to all answers at once: one database's registered
    country beside another's located one is not a dispute between them.
    """
    pairs = [(a.country, a.registered_country) for a in location.answers]
    pairs.append((location.country, location.registered_country))
    located = [c for c in (_code(p[0]) for p in pairs) if c]
    registered = [c for c in (_code(p[1]) for p in pairs) if c]
    if judge_by is JudgeBy.BOTH:
        found = located + registered
    elif judge_by is JudgeBy.REGISTRATION:
        found = registered or located
    else:
        found = located or registered
    return list(dict.fromkeys(found))


def _is_anycast(location: Location) -> bool:
    return location.is_anycast or LocationFlag.ANYCAST in location.flags


def _is_disputed(location: Location, judge_by: JudgeBy) -> bool:
    """Flagged by the locating stage, or seen here: the databases name different countries."""
    if LocationFlag.DISPUTED in location.flags:
        return True
    if judge_by is JudgeBy.BOTH:
        # Located and registered differing is not a dispute; each kind disagreeing is.
        kinds = (JudgeBy.LOCATION, JudgeBy.REGISTRATION)
        return any(len(_answer_codes(location, kind)) > 1 for kind in kinds)
    return len(_answer_codes(location, judge_by)) > 1


def _defective(location: Location) -> Judgement:
    """A database broke its contract: the endpoint cannot be judged, and the run is incomplete."""
    database, code = next(
        ((a.database, c) for a in location.answers for c in a.codes if not is_country_code(c)),
        ("a database", "?"),
    )
    reason = (
        f"defective answer: {database} gives {code!r} for {location.ip}, "
        "which is no ISO 3166 alpha-2 country code"
    )
    return Judgement(Verdict.UNKNOWN, reason)


def _judge_uncertain(location: Location, codes: list[str], policy: Policy) -> Judgement:
    """Anycast or disputed: only a unanimous outcome over every answer is trusted."""
    what = "anycast address" if _is_anycast(location) else "databases disagree"
    verdicts = [rule(code, policy)[0] for code in codes]
    listed = ", ".join(codes)
    if all(v is Verdict.ALLOWED for v in verdicts):
        reason = f"{what} ({listed}): every answer is allowed"
        return Judgement(Verdict.ALLOWED, reason, judged_country=codes[0], basis=Basis.ANSWERS)
    if not _is_anycast(location) and all(v is Verdict.VIOLATION for v in verdicts):
        # Whichever database is right, the endpoint is out of policy.
        reason = f"{what} ({listed}): every answer is outside the policy"
        return Judgement(Verdict.VIOLATION, reason, judged_country=codes[0], basis=Basis.ANSWERS)
    reason = f"{what} ({listed}): not every answer is allowed, so where it is cannot be told"
    return Judgement(Verdict.UNKNOWN, reason, judged_country=None, basis=Basis.ANSWERS)


def _judge_unchecked(location: Location, policy: Policy) -> Judgement:
    if location.is_local:
        reason = f"{location.ip} is a {location.address_class} address: not looked up or judged"
        return Judgement(Verdict.LOCAL, reason, basis=Basis.ADDRESS_CLASS)
    if LocationFlag.DEFECTIVE in location.flags:
        return _defective(location)
    codes = _answer_codes(location, policy.judge_by)
    if codes and (_is_anycast(location) or _is_disputed(location, policy.judge_by)):
        return _judge_uncertain(location, codes, policy)
    bases = _bases(location.country, location.registered_country, policy.judge_by)
    if not bases:
        return _no_country(location)
    return _judge_bases(bases, policy)


def judge(location: Location, policy: Policy) -> Judgement:
    """The verdict on one location, with the rule that decided it; --strict fails unknowns."""
    judgement = _judge_unchecked(location, policy)
    if judgement.verdict is Verdict.UNKNOWN and policy.strict:
        reason = f"{judgement.reason} (--strict counts unknown locations as violations)"
        return replace(judgement, verdict=Verdict.VIOLATION, reason=reason)
    return judgement


def judge_findings(
    endpoints: Iterable[ServerEndpoint],
    locations: Mapping[str, Location] | Iterable[Location],
    policy: Policy,
    evidence: Mapping[str, Evidence] | None = None,
) -> tuple[Finding, ...]:
    """One finding per endpoint, in the endpoints' order; an unlocated endpoint is unknown.

    Endpoints placed alike (the same countries, answers and flags) with nothing beyond the
    databases to weigh share one Judgement: a million servers in a few countries are judged a
    few times, and hold a few reasons, not a million.
    """
    if isinstance(locations, Mapping):
        by_ip = locations
    else:  # as a dict display would make it (the last location of an address holds), by maps
        listed = locations if isinstance(locations, list | tuple) else list(locations)
        by_ip = dict(zip(map(_IP, listed), listed, strict=True))
    if not policy.roles and not evidence:
        return _Shared().findings(endpoints, by_ip, policy)
    located, weighed = by_ip.get, (evidence or {}).get
    judged = _Shared().judged
    findings = []
    for endpoint in endpoints:
        ip = endpoint.ip
        location = located(ip) or Location(ip=ip)
        found = weighed(ip, _NO_EVIDENCE)
        if policy.roles:
            judgements = [
                judged(location, found, scoped, label)
                for label, scoped in role_policies(endpoint, policy)
            ]
            worst = max(judgements, key=lambda j: _SEVERITY[j.verdict])
        else:  # what role_policies gives without role rules: the policy alone
            worst = judged(location, found, policy, None)
        findings.append(build_finding(endpoint, location, worst, found, None))
    return tuple(findings)


class _Shared:
    """The judgements shared by endpoints placed alike, and what each place's answers give."""

    def __init__(self) -> None:
        self.judgements: dict[tuple[object, ...], Judgement] = {}
        # The countries each answers tuple gives, by the tuple's identity (the locator shares
        # one per place; the tuple is held beside them, so its identity cannot pass to another),
        # as a number: equal countries, the same number (a key hashes a number, not the
        # countries, once per endpoint).
        self._codes: dict[int, tuple[tuple[CountryAnswer, ...], int]] = {}
        self._numbers: dict[tuple[tuple[str | None, ...], ...], int] = {}

    def judged(
        self, location: Location, found: Evidence, policy: Policy, label: str | None
    ) -> Judgement:
        """The judgement under one role's policy; shared by every endpoint placed alike when
        nothing beyond the databases is weighed (its key made here: a call per endpoint costs)."""
        if found.bounds or found.hints:
            return _scoped(_weigh(location, found, policy), label)
        # Everything judge() reads from a location but its address (which only reasons naming
        # it read, and those are never shared): its class and flags, the countries it and each
        # database answer give, whether any database knew its network. Not its city, radius or
        # organisation: endpoints of one country then share a judgement, however many networks
        # they are in. A field judge() comes to read must be added here (tests/policy/
        # test_judge.py checks each).
        answers = location.answers
        held = self._codes.get(id(answers)) or self._number(answers)
        key = (label, _JUDGED_FIELDS(location), held[1], location.asn is not None)
        judgement = self.judgements.get(key)
        if judgement is None:
            judgement = _scoped(_weigh(location, found, policy), label)
            if location.ip not in judgement.reason:  # a reason naming its address is its own
                self.judgements[key] = judgement
        return judgement

    def findings(
        self, endpoints: Iterable[ServerEndpoint], by_ip: Mapping[str, Location], policy: Policy
    ) -> tuple[Finding, ...]:
        """judge_findings without role rules or evidence: judged(location, _NO_EVIDENCE,
        policy, None) of each endpoint, its shared judgement found inline, judged() asked
        only when none is shared yet (a call per endpoint cost ~0.3 us of ~1.8, gc off)."""
        located, fields, build = by_ip.get, _JUDGED_FIELDS, build_finding
        codes, number, judged = self._codes.get, self._number, self.judged
        shared = self.judgements.get
        findings: list[Finding] = []
        append = findings.append
        for endpoint in endpoints:
            ip = endpoint.ip
            location = located(ip) or Location(ip=ip)
            answers = location.answers
            held = codes(id(answers)) or number(answers)
            judgement = shared((None, fields(location), held[1], location.asn is not None))
            if judgement is None:  # as judged() makes and keeps it
                judgement = judged(location, _NO_EVIDENCE, policy, None)
            append(build(endpoint, location, judgement, _NO_EVIDENCE, None))
        return tuple(findings)

    def _number(self, answers: tuple[CountryAnswer, ...]) -> tuple[tuple[CountryAnswer, ...], int]:
        if len(self._codes) >= _ANSWER_SETS:
            self._codes.clear()
        codes = tuple((a.country, a.registered_country, a.represented_country) for a in answers)
        number = self._numbers.setdefault(codes, len(self._numbers))
        held = self._codes[id(answers)] = (answers, number)
        return held


_JUDGED_FIELDS = attrgetter(
    "address_class", "flags", "is_anycast", "country", "registered_country", "represented_country"
)
_IP = attrgetter("ip")
_ANSWER_SETS = 100_000  # past this many places' answers, the remembered countries start again


# An endpoint judged under several role rules gets the worst of its judgements.
_SEVERITY = {Verdict.LOCAL: 0, Verdict.ALLOWED: 1, Verdict.UNKNOWN: 2, Verdict.VIOLATION: 3}


def role_policies(endpoint: ServerEndpoint, policy: Policy) -> list[tuple[str | None, Policy]]:
    """The policies one endpoint is judged under: one per role rule its roles fall under (the
    rule's label with it), and the policy's own allow for roles without one."""
    if not policy.roles:
        return [(None, policy)]
    rules = {rule.role: rule for rule in policy.roles}
    scoped: dict[str | None, Policy] = {}
    for claim in endpoint.roles or ():
        rule = rules.get(claim.role)
        if rule is not None:
            scoped[rule.role.value] = replace(
                policy, allow=rule.allow, allow_spec=rule.allow_spec, roles=()
            )
        else:
            scoped.setdefault(None, policy)
    return list(scoped.items()) or [(None, policy)]


def _scoped(judgement: Judgement, label: str | None) -> Judgement:
    if label is None:
        return judgement
    return replace(judgement, reason=f"as {label}: {judgement.reason}")


_NO_EVIDENCE = Evidence()


def _weigh(location: Location, found: Evidence, policy: Policy) -> Judgement:
    # Imported here, once per judgement made (not per endpoint): weigh builds on this
    # module's rule and judge.
    from auditor.policy.weigh import weigh

    return weigh(location, found, policy)
