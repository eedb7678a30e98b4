"""judge_findings' shared judgements, found inline without role rules or evidence, against the
per-finding definition: each endpoint's location (or an unknown one) judged alone by weigh()."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.addresses import AddressClass
from auditor.model import (
    CountryAnswer,
    Evidence,
    Finding,
    JudgeBy,
    Location,
    LocationFlag,
    Policy,
    ServerEndpoint,
    ServerReason,
)
from auditor.policy import judge_findings, parse_policy
from auditor.policy.weigh import weigh

IPS = [f"198.51.100.{n}" for n in range(8)] + ["2001:db8::1", "10.0.0.1"]
CODES = st.sampled_from(["US", "CN", "DE", "ＣＮ", None])
# A few answers tuples, each one object: the locator shares one per place, which judge_findings
# remembers by identity; equal tuples that are other objects are drawn too.
ANSWER_SETS = [
    (),
    (CountryAnswer("a.mmdb", "US", "US"),),
    (CountryAnswer("a.mmdb", "CN", None),),
    (CountryAnswer("a.mmdb", "US", "US"), CountryAnswer("b.mmdb", "CN", "CN")),
    (CountryAnswer("a.mmdb", None, "DE", "US"),),
    (CountryAnswer("a.mmdb", "ＣＮ", None),),
]
ANSWERS = st.sampled_from(ANSWER_SETS) | st.sampled_from(ANSWER_SETS).map(
    lambda answers: tuple(CountryAnswer(*vars_of(a)) for a in answers)
)
FLAGS = st.sampled_from([(), *((flag,) for flag in LocationFlag)]) | st.lists(
    st.sampled_from(list(LocationFlag)), max_size=2, unique=True
).map(tuple)


def vars_of(answer: CountryAnswer) -> tuple[Any, ...]:
    return tuple(getattr(answer, name) for name in answer.__slots__)


CLASSES = st.sampled_from([None, None, None, AddressClass.PRIVATE])
# Each field judge() may read, and how to draw it; the place's class, countries, city, AS
# number, organisation, anycast, radius, answers and flags, in Location's order after ip.
FIELDS: list[st.SearchStrategy[Any]] = [
    CLASSES, CODES, CODES, CODES, st.none() | st.just("Paris"),
    st.none() | st.sampled_from([0, 15169]), st.none() | st.just("Org"), st.booleans(),
    st.none() | st.sampled_from([10, 1000]), ANSWERS, FLAGS,
]  # fmt: skip


@st.composite
def located(draw: st.DrawFn) -> list[Location]:
    """Locations at the addresses, of a few places, each but the first the first with one
    field changed: alike in all but one thing, so a judgement shared on too little is met."""
    first = [draw(field) for field in FIELDS]
    pool = [first]
    for _ in range(draw(st.integers(0, 3))):
        changed = list(first)
        at = draw(st.integers(0, len(FIELDS) - 1))
        changed[at] = draw(FIELDS[at])
        pool.append(changed)
    ips = draw(st.lists(st.sampled_from(IPS), max_size=8, unique=True))
    return [Location(ip, *draw(st.sampled_from(pool))) for ip in ips]


def _policy(allow: str, deny: list[str], judge_by: JudgeBy, strict: bool) -> Policy:
    return parse_policy([allow], deny=deny, judge_by=judge_by, strict=strict)


POLICIES = st.builds(
    _policy,
    st.sampled_from(["US,EU", "US", "CN,DE"]),
    st.sampled_from([[], ["CN"], ["DE"]]),
    st.sampled_from(list(JudgeBy)),
    st.booleans(),
)


def _endpoint(ip: str) -> ServerEndpoint:
    return ServerEndpoint(ip, 1, 60, 1, ("443/tcp",), ("tcp",), 0.0, 0.0, 1, ServerReason.SYN)


def _defined(
    endpoints: list[ServerEndpoint], by_ip: Mapping[str, Location], policy: Policy
) -> tuple[Finding, ...]:
    """One finding per endpoint, each judged alone."""
    findings = []
    for endpoint in endpoints:
        location = by_ip.get(endpoint.ip) or Location(ip=endpoint.ip)
        findings.append(Finding(endpoint, location, weigh(location, Evidence(), policy)))
    return tuple(findings)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(
    located(),
    st.lists(st.sampled_from(IPS), max_size=4),
    POLICIES,
    st.booleans(),
)
def test_shared_judgements_are_each_findings_own(
    placed: list[Location], ips: list[str], policy: Policy, as_mapping: bool
) -> None:
    endpoints = [_endpoint(ip) for ip in [*(location.ip for location in placed), *ips]]
    by_ip = {location.ip: location for location in placed}  # the last of an address wins
    found = judge_findings(endpoints, by_ip if as_mapping else placed, policy)
    assert found == _defined(endpoints, by_ip, policy)
    # and as an iterator of endpoints, with an empty evidence mapping
    assert judge_findings(iter(endpoints), by_ip, policy, {}) == found


def test_the_last_location_of_an_address_holds_in_any_iterable() -> None:
    """Locations given as a sequence or an iterator are read as a dict display reads them:
    of two for one address, the later holds."""
    ip = IPS[0]
    first, last = Location(ip, country="US"), Location(ip, country="CN")
    policy = parse_policy(["US"])
    endpoints = [_endpoint(ip)]
    expected = _defined(endpoints, {ip: last}, policy)
    other = _defined(endpoints, {ip: first}, policy)
    assert expected[0].judgement.verdict is not other[0].judgement.verdict
    for given_locations in ([first, last], (first, last), iter([first, last])):
        assert judge_findings(endpoints, given_locations, policy) == expected
