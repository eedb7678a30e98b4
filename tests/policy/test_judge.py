"""Judging locations against a policy."""

from __future__ import annotations

import pytest

from auditor.addresses import AddressClass
from auditor.model import (
    Basis,
    CountryAnswer,
    JudgeBy,
    Location,
    LocationFlag,
    ServerEndpoint,
    ServerReason,
    Verdict,
)
from auditor.policy import judge, judge_findings, parse_policy

US_EU = parse_policy(["US,EU"])


def _loc(**kwargs: object) -> Location:
    return Location(ip="203.0.113.9", **kwargs)  # type: ignore[arg-type]


def test_allowed_and_violation() -> None:
    allowed = judge(_loc(country="DE"), US_EU)
    assert allowed.verdict is Verdict.ALLOWED
    assert allowed.reason == "DE is allowed (EU)"
    assert allowed.basis is Basis.COUNTRY
    violation = judge(_loc(country="CN", registered_country="CN"), US_EU)
    assert violation.verdict is Verdict.VIOLATION
    assert violation.reason == "CN is outside the allowed jurisdictions (US, EU)"
    assert violation.judged_country == "CN"


def test_lower_case_database_code_is_no_country() -> None:
    # Databases spell codes in capitals; "de" is off-contract and never taken for Germany.
    assert judge(_loc(country="de"), US_EU).verdict is Verdict.UNKNOWN


def test_local_is_not_judged() -> None:
    judgement = judge(Location(ip="10.0.0.1", address_class=AddressClass.PRIVATE), US_EU)
    assert judgement.verdict is Verdict.LOCAL
    assert "private" in judgement.reason


def test_deny_beats_allow_group() -> None:
    policy = parse_policy(["EU"], ["DE"])
    judgement = judge(_loc(country="DE"), policy)
    assert judgement.verdict is Verdict.VIOLATION
    assert judgement.reason == "DE is denied (DE)"
    assert judge(_loc(country="FR"), policy).verdict is Verdict.ALLOWED


def test_deny_only() -> None:
    policy = parse_policy([], ["CN"])
    assert judge(_loc(country="BR"), policy).verdict is Verdict.ALLOWED
    assert judge(_loc(country="BR"), policy).reason == "BR is not denied (CN)"
    assert judge(_loc(country="CN"), policy).verdict is Verdict.VIOLATION


def test_only_registered_country_known() -> None:
    judgement = judge(_loc(registered_country="CN"), US_EU)
    assert judgement.verdict is Verdict.VIOLATION
    assert judgement.basis is Basis.REGISTERED_COUNTRY
    assert "no located country known" in judgement.reason
    assert "registered in CN" in judgement.reason


def test_registered_elsewhere_is_judged_by_location() -> None:
    judgement = judge(_loc(country="DE", registered_country="CN"), US_EU)
    assert judgement.verdict is Verdict.ALLOWED
    assert judgement.judged_country == "DE"


def test_judge_by_registration() -> None:
    policy = parse_policy(["US,EU"], judge_by=JudgeBy.REGISTRATION)
    judgement = judge(_loc(country="DE", registered_country="CN"), policy)
    assert judgement.verdict is Verdict.VIOLATION
    assert judgement.basis is Basis.REGISTERED_COUNTRY
    fallback = judge(_loc(country="DE"), policy)
    assert fallback.verdict is Verdict.ALLOWED
    assert "no registered country known" in fallback.reason


@pytest.mark.parametrize(
    ("country", "registered", "verdict"),
    [
        ("DE", "US", Verdict.ALLOWED),
        ("DE", "CN", Verdict.VIOLATION),
        ("CN", "DE", Verdict.VIOLATION),
        ("DE", None, Verdict.ALLOWED),
        (None, None, Verdict.UNKNOWN),
    ],
)
def test_judge_by_both(country: str | None, registered: str | None, verdict: Verdict) -> None:
    policy = parse_policy(["US,EU"], judge_by="both")
    judgement = judge(_loc(country=country, registered_country=registered), policy)
    assert judgement.verdict is verdict


def test_both_reason_names_each() -> None:
    policy = parse_policy(["US,EU"], judge_by="both")
    judgement = judge(_loc(country="DE", registered_country="CN"), policy)
    assert judgement.reason.startswith("located in DE: DE is allowed (EU); registered in CN: CN")
    assert judgement.basis is Basis.BOTH


def test_unknown_and_strict() -> None:
    judgement = judge(_loc(), US_EU)
    assert judgement.verdict is Verdict.UNKNOWN
    assert judgement.reason == "no database knows where 203.0.113.9 is"
    strict = judge(_loc(), parse_policy(["US"], strict=True))
    assert strict.verdict is Verdict.VIOLATION
    assert "--strict" in strict.reason


def test_defective_answer_is_unknown() -> None:
    answer = CountryAnswer("crafted.mmdb", "ＣＮ", "ＣＮ")
    location = _loc(country="ＣＮ", answers=(answer,), flags=(LocationFlag.DEFECTIVE,))
    judgement = judge(location, parse_policy(["CN"]))
    assert judgement.verdict is Verdict.UNKNOWN
    assert judgement.reason == (
        "defective answer: crafted.mmdb gives 'ＣＮ' for 203.0.113.9, "
        "which is no ISO 3166 alpha-2 country code"
    )


def test_anycast_unknown_unless_all_allowed() -> None:
    anycast = judge(_loc(country="CN", is_anycast=True), US_EU)
    assert anycast.verdict is Verdict.UNKNOWN
    assert "anycast" in anycast.reason
    ok = judge(_loc(country="US", flags=(LocationFlag.ANYCAST,)), US_EU)
    assert ok.verdict is Verdict.ALLOWED
    assert ok.basis is Basis.ANSWERS


def _answers(*countries: str) -> tuple[CountryAnswer, ...]:
    return tuple(CountryAnswer(f"db{i}", c, None) for i, c in enumerate(countries))


def test_disputed() -> None:
    disputed = (LocationFlag.DISPUTED,)
    split = judge(_loc(country="US", answers=_answers("US", "CN"), flags=disputed), US_EU)
    assert split.verdict is Verdict.UNKNOWN
    assert "US, CN" in split.reason
    agreed = judge(_loc(country="US", answers=_answers("US", "DE"), flags=disputed), US_EU)
    assert agreed.verdict is Verdict.ALLOWED
    # Whichever database is right, both answers are out of policy.
    both_out = judge(_loc(country="CN", answers=_answers("CN", "RU")), US_EU)
    assert both_out.verdict is Verdict.VIOLATION


def test_disagreement_is_seen_without_the_flag() -> None:
    judgement = judge(_loc(country="US", answers=_answers("US", "CN")), US_EU)
    assert judgement.verdict is Verdict.UNKNOWN


def test_anycast_strict_is_violation() -> None:
    policy = parse_policy(["US"], strict=True)
    assert judge(_loc(country="CN", is_anycast=True), policy).verdict is Verdict.VIOLATION


def _endpoint(ip: str) -> ServerEndpoint:
    return ServerEndpoint(
        ip=ip,
        packets=1,
        bytes=60,
        flows=1,
        ports=("443/tcp",),
        protocols=("tcp",),
        first_seen=0.0,
        last_seen=0.0,
        first_frame=1,
        reason=ServerReason.SYN,
    )


def test_judge_findings_keeps_order_and_fills_missing() -> None:
    endpoints = [_endpoint("198.51.100.1"), _endpoint("198.51.100.2")]
    locations = {"198.51.100.1": Location(ip="198.51.100.1", country="CN")}
    findings = judge_findings(endpoints, locations, US_EU)
    assert [f.endpoint.ip for f in findings] == ["198.51.100.1", "198.51.100.2"]
    assert [f.judgement.verdict for f in findings] == [Verdict.VIOLATION, Verdict.UNKNOWN]
    assert findings[1].location.ip == "198.51.100.2"
    as_list = judge_findings(endpoints, list(locations.values()), US_EU)
    assert as_list == findings


def test_registered_only_answer_beside_located_one_is_not_a_dispute() -> None:
    answers = (CountryAnswer("a.mmdb", None, "CN"), CountryAnswer("b.mmdb", "US", "US"))
    judgement = judge(_loc(country="US", registered_country="US", answers=answers), US_EU)
    assert judgement.verdict is Verdict.ALLOWED
    assert judgement.basis is Basis.COUNTRY


def test_both_mode_dispute_in_one_kind() -> None:
    policy = parse_policy(["US,EU"], judge_by="both")
    answers = (CountryAnswer("a.mmdb", "US", "US"), CountryAnswer("b.mmdb", "CN", "US"))
    judgement = judge(_loc(country="US", registered_country="US", answers=answers), policy)
    assert judgement.verdict is Verdict.UNKNOWN


def _places() -> list[Location]:
    """Locations varying every field judge() could read, each at an address of its own."""
    import itertools

    answer_sets = [
        (),
        (CountryAnswer("a.mmdb", "US", "US"),),
        (CountryAnswer("a.mmdb", "CN", None),),
        (CountryAnswer("a.mmdb", "US", "US"), CountryAnswer("b.mmdb", "CN", "CN")),
        (CountryAnswer("a.mmdb", None, "DE", "US"),),
        (CountryAnswer("a.mmdb", "ＣＮ", None),),
    ]
    combos = itertools.product(
        ("US", "CN", None), ("US", "DE", None), (None, "US"), answer_sets,
        ((), (LocationFlag.ANYCAST,), (LocationFlag.DISPUTED,), (LocationFlag.DEFECTIVE,)),
        (False, True), (None, 15169), (None, "Paris"), (None, AddressClass.PRIVATE),
    )  # fmt: skip
    places = []
    for i, combo in enumerate(combos):
        country, registered, represented, answers, flags, anycast, asn, city, address_class = combo
        org = "Org" if asn else None
        ip = f"198.51.{i // 250}.{i % 250}"
        place = (address_class, country, registered, represented, city, asn, org, anycast, None)
        places.append(Location(ip, *place, answers, flags))
    return places


@pytest.mark.parametrize("judge_by", list(JudgeBy))
@pytest.mark.parametrize("strict", [False, True])
def test_shared_judgements_are_each_locations_own(judge_by: JudgeBy, strict: bool) -> None:
    """judge_findings shares one Judgement among endpoints placed alike: each must be the one
    judge() gives that endpoint's location alone (a field judge() reads, left out of what is
    shared on, would hand one place's verdict to another)."""
    policy = parse_policy(["US,EU"], deny=["CN"], judge_by=judge_by, strict=strict)
    places = _places()
    findings = judge_findings([_endpoint(p.ip) for p in places], places, policy)
    for place, found in zip(places, findings, strict=True):
        assert found.judgement == judge(place, policy), place


def test_one_country_in_many_networks_is_judged_once() -> None:
    places = [
        Location(f"198.51.100.{i}", country="US", city=f"City {i}", asn=i, org=f"AS {i}",
                 accuracy_radius=i, answers=(CountryAnswer("a.mmdb", "US", None, latitude=i),))
        for i in range(1, 50)
    ]  # fmt: skip
    findings = judge_findings([_endpoint(p.ip) for p in places], places, US_EU)
    assert len({id(f.judgement) for f in findings}) == 1
    assert findings[0].judgement == judge(places[0], US_EU)
