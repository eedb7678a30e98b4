"""A place's text, written from cached parts (json_places), is the encoder's text of the same
dicts, whatever the values: hostile strings, and numbers that compare equal but are written
differently (1, 1.0, True; 0.0, -0.0; NaN, infinities) met in any order by one set of caches."""

from __future__ import annotations

import json
import math
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.addresses import AddressClass
from auditor.model import (
    Basis,
    CountryAnswer,
    Finding,
    Judgement,
    Location,
    LocationFlag,
    Verdict,
)
from auditor.report.evidence_view import answer_json, evidence_json
from auditor.report.json_places import PlaceTexts
from auditor.report.json_rows import located_part
from auditor.report.json_text import scalar_text
from tests.report.factory import endpoint
from tests.report.hostile import HOSTILE


def _encoded(value: object) -> str:
    """The oracle: the stdlib's own encoding, as the report's whole line is written."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


# Numbers that compare equal (or never do: NaN) but are written differently, and ordinary ones.
_NUMBERS = st.sampled_from(
    [None, 0, 0.0, -0.0, 1, 1.0, True, False, 20, 20.0, 1000, math.nan, math.inf, -math.inf,
     52.5, -13.25, 1e300, 2**70]
)
_TEXTS = st.sampled_from(["US", "DE", "cn", "", "Zürich", *HOSTILE.values()])
_OPTIONAL_TEXTS = st.none() | _TEXTS

_ANSWERS = st.builds(
    CountryAnswer,
    database=st.sampled_from(["a.mmdb", HOSTILE["ansi"], "c\u202e.mmdb"]),
    country=_OPTIONAL_TEXTS,
    registered_country=_OPTIONAL_TEXTS,
    represented_country=_OPTIONAL_TEXTS,
    latitude=_NUMBERS,
    longitude=_NUMBERS,
    accuracy_radius=_NUMBERS,
)

_LOCATIONS = st.builds(
    Location,
    ip=st.just("192.0.2.1"),
    address_class=st.none() | st.sampled_from(list(AddressClass)),
    country=_OPTIONAL_TEXTS,
    registered_country=_OPTIONAL_TEXTS,
    represented_country=_OPTIONAL_TEXTS,
    city=_OPTIONAL_TEXTS,
    asn=_NUMBERS,
    org=_OPTIONAL_TEXTS,
    is_anycast=st.sampled_from([False, True, 0, 1]),
    accuracy_radius=_NUMBERS,
    answers=st.lists(_ANSWERS, max_size=3).map(tuple),
    flags=st.lists(st.sampled_from(list(LocationFlag)), max_size=2, unique=True).map(tuple),
)

_JUDGEMENTS = st.builds(
    Judgement,
    verdict=st.sampled_from(list(Verdict)),
    reason=st.just("why"),
    judged_country=st.none() | st.sampled_from(["US", "DE", "CN", "cn"]),
    basis=st.none() | st.sampled_from(list(Basis)),
)


@given(st.lists(st.tuples(_LOCATIONS, _JUDGEMENTS), min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_a_place_is_the_encoding_of_its_dicts(places: list[tuple[Location, Judgement]]) -> None:
    """One set of caches over many places, twice: a cached part is only ever given to a value
    the encoder writes the same way."""
    texts = PlaceTexts()
    for _pass in range(2):
        for location, judgement in places:
            finding = Finding(endpoint(location.ip), location, judgement)
            answers = texts.answers(location.answers)
            assert answers == _encoded([answer_json(a) for a in location.answers])
            assert "{" + texts.located(location, answers) + "}" == _encoded(
                located_part(location, finding)
            )
            assert texts.bare_evidence(finding, answers) == _encoded(evidence_json(finding))
    # Every place's answers at once, made (then remembered) together, each list its own.
    lists = [location.answers for location, _judgement in places]
    together = PlaceTexts()
    for _pass in range(2):
        assert together.answer_lists(lists) == [
            _encoded([answer_json(a) for a in each]) for each in lists
        ]


def test_answers_equal_under_eq_but_written_differently_never_share_a_text() -> None:
    """The cases a cache keyed by the answer's value alone would confuse, each after the
    other."""
    texts = PlaceTexts()
    values = [1.0, 1, True, 0.0, -0.0, 0, False, math.nan, 20, 20.0]
    for value in [*values, *reversed(values)]:
        answer = CountryAnswer("a.mmdb", "US", None, latitude=value, longitude=value,
                               accuracy_radius=value)  # type: ignore[arg-type]
        assert texts.answers((answer,)) == _encoded([answer_json(answer)])


@given(_NUMBERS | st.floats() | st.integers())
def test_scalar_text_is_the_encoders(value: object) -> None:
    assert scalar_text(value) == _encoded(value)


def test_the_confidence_follows_the_located_country_too() -> None:
    """Two places alike but for the location's own country: agreed, then disputed."""
    texts = PlaceTexts()
    answers = (CountryAnswer("a.mmdb", "US", None), CountryAnswer("b.mmdb", "US", None))
    judged = Judgement(Verdict.ALLOWED, "why", "US", Basis.COUNTRY)
    for country, expected in [("US", "agreed"), ("DE", "disputed"), ("US", "agreed")]:
        location = Location("192.0.2.1", country=country, answers=answers)
        finding = Finding(endpoint(location.ip), location, judged)
        text = texts.bare_evidence(finding, texts.answers(answers))
        assert text == _encoded(evidence_json(finding))
        assert text.startswith(f'{{"confidence": "{expected}"')


def test_places_equal_under_eq_but_written_differently_never_share_a_text() -> None:
    """Places alike but for how one number is written (its ASN, its radius, its anycast
    flag: 1, 1.0, True; 0, 0.0, -0.0, False), each after the other through one set of caches:
    a part shared by places is keyed only by values written one way."""
    texts = PlaceTexts()
    base = Location("192.0.2.1", country="US", city="Zürich", org="AS One")
    numbers = [1, 1.0, True, 0, 0.0, -0.0, False, None, math.nan]
    places = [
        *(replace(base, asn=n) for n in numbers),  # type: ignore[arg-type]
        *(replace(base, accuracy_radius=n) for n in numbers),  # type: ignore[arg-type]
        *(replace(base, is_anycast=n) for n in numbers),  # type: ignore[arg-type]
        *(replace(base, is_anycast=n, flags=(LocationFlag.ANYCAST,))  # type: ignore[arg-type]
          for n in numbers),
        replace(base, city="Zurich"),
        replace(base, country="DE"),
        replace(base, flags=(LocationFlag.DISPUTED,)),
    ]
    judged = Judgement(Verdict.ALLOWED, "why", "US", Basis.COUNTRY)
    for location in [*places, *reversed(places)]:
        finding = Finding(endpoint(location.ip), location, judged)
        answers = texts.answers(location.answers)
        assert "{" + texts.located(location, answers) + "}" == _encoded(
            located_part(location, finding)
        )
