"""A place's text in the JSON report: the keys a location decides, its databases' answers, and
the evidence that is those answers alone, each as the encoder would write it.

A hundred thousand servers sit in some twenty thousand places, and each place's text (~1.5 KB,
its answers written twice) is made the first time an endpoint there is written. Made by
building its dicts and encoding them, that was most of the report; here it is written from
parts met before: the few country triples the databases give, each database answer (a city
database gives one per city) and each evidence confidence, each encoded once. Numbers are
written as the encoder writes them (json_text.scalar_text). An answer's text is kept by the
answer's identity (the locator makes one answer per distinct record), so values that compare
equal but are written differently (1 and 1.0, 0.0 and -0.0) never share a text. A test
holds every text equal to the encoder's.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import chain, compress, islice
from math import isfinite
from operator import attrgetter, itemgetter, not_

from auditor.geo.precision import AnswerPrecision, answer_precision
from auditor.model import CountryAnswer, Finding, Location, LocationFlag
from auditor.report.escape import clean
from auditor.report.evidence_view import confidence
from auditor.report.json_text import ONE_LINE, STRING, optional_text, remember, scalar_text
from auditor.report.view import location_flags

_COUNTRIES = attrgetter("country", "registered_country", "represented_country")
_HEAD = attrgetter("country", "registered_country", "represented_country", "city")
_ANSWER_HEAD = attrgetter("database", "country", "registered_country", "represented_country")
_PRECISION = {precision: STRING(precision.value) for precision in AnswerPrecision}
_POINT_WITHOUT_RADIUS = _PRECISION[AnswerPrecision.POINT_WITHOUT_RADIUS]
_ANSWER_COUNTRY = attrgetter("country")
_TEXT = itemgetter(0)

# An evidence object with nothing beyond the databases (no round trip, bound, hint,
# refutation or set-aside trip) ends with these keys, every list empty.
BARE_END = (
    '"round_trips": [], "bounds": [], "possible_countries": null, "hints": [], '
    '"refutations": [], "set_aside": []}'
)


class PlaceTexts:
    """Encodes places, answers and bare evidence, remembering the parts places share."""

    def __init__(self) -> None:
        self._countries: dict[tuple[str | None, ...], str] = {}
        # An answer's text, and the answer held: its id is never another's while kept.
        self._answers: dict[int, tuple[str, CountryAnswer]] = {}
        self._confidence: dict[tuple[Hashable, ...], str] = {}
        # The parts of a place's text that many places share, each keyed by values that are
        # written one way only (strings, None, ints and bools by their exact type): ~23,000
        # places at 100k servers sit in some 3,000 networks and far fewer countries.
        self._heads: dict[tuple[str | None, ...], str] = {}
        self._networks: dict[tuple[int | None, str | None], str] = {}
        self._rests: dict[tuple[Hashable, ...], str] = {}
        self._answer_heads: dict[tuple[str | None, ...], str] = {}

    def located(self, location: Location, answers: str) -> str:
        """The keys from "country" to "answers" (json_rows.located_part), encoded; `answers`
        is the location's answers as answers() writes them."""
        head = self._heads.get(_HEAD(location))
        if head is None:
            head = self._head_text(location)
        asn, org = location.asn, location.org
        if asn is None or type(asn) is int:  # 1 and True (1.0, 0.0 and -0.0) never share a key
            network = self._networks.get((asn, org))
            if network is None:
                network = f'"asn": {scalar_text(asn)}, "org": {optional_text(org)}'
                remember(self._networks, (asn, org), network)
        else:
            network = f'"asn": {scalar_text(asn)}, "org": {optional_text(org)}'
        return f"{head}{network}{self._rest_text(location)}{answers}"

    def _head_text(self, location: Location) -> str:
        """The keys from "country" to "city", and the comma after them."""
        text = (
            f'{self._countries_text(_COUNTRIES(location))}, '
            f'"city": {optional_text(location.city)}, '
        )
        remember(self._heads, _HEAD(location), text)
        return text

    def _rest_text(self, location: Location) -> str:
        """The keys from "address_class" to "flags", and the "answers" key after them."""
        anycast, radius = location.is_anycast, location.accuracy_radius
        key = None
        if type(anycast) is bool and (radius is None or type(radius) is int):
            key = (location.address_class, anycast, radius, location.flags)
            text = self._rests.get(key)
            if text is not None:
                return text
        flagged = anycast or LocationFlag.ANYCAST in location.flags
        flags = location.flags or anycast
        text = (
            f', "address_class": {optional_text(location.address_class)}, '
            f'"anycast": {scalar_text(flagged)}, '
            f'"accuracy_radius": {scalar_text(radius)}, '
            f'"flags": {ONE_LINE(list(location_flags(location))) if flags else "[]"}, '
            '"answers": '
        )
        if key is not None:
            remember(self._rests, key, text)
        return text

    def answers(self, answers: tuple[CountryAnswer, ...]) -> str:
        """The list of answer_json objects, encoded."""
        found = list(map(self._answers.get, map(id, answers)))
        if None in found:
            return "[" + ", ".join(map(self._answer_text, answers)) + "]"
        return "[" + ", ".join(map(_TEXT, found)) + "]"  # type: ignore[arg-type]

    def answer_lists(self, answers: list[tuple[CountryAnswer, ...]]) -> list[str]:
        """answers() of each tuple, every answer looked up in one pass."""
        flat = list(chain.from_iterable(answers))
        entries = list(map(self._answers.get, map(id, flat)))
        for index in compress(range(len(entries)), map(not_, entries)):
            entries[index] = (self._answer_text(flat[index]),)  # type: ignore[assignment]
        texts = map(_TEXT, entries)  # type: ignore[arg-type]
        return ["[" + ", ".join(islice(texts, len(each))) + "]" for each in answers]

    def bare_evidence(self, finding: Finding, answers: str) -> str:
        """evidence_json's encoding when nothing beyond the databases is known (no round trip,
        bound, hint, refutation or set-aside trip): `answers` as answers() wrote them."""
        return (
            f'{{"confidence": {self._confidence_text(finding)}, "answers": {answers}, '
            f'"accuracy_radius_km": {scalar_text(finding.location.accuracy_radius)}, '
            f"{BARE_END}"
        )

    def _countries_text(self, countries: tuple[str | None, ...]) -> str:
        """The "country", "registered_country" and "represented_country" keys (a location's
        and an answer's alike)."""
        text = self._countries.get(countries)
        if text is None:
            country, registered, represented = countries
            text = (
                f'"country": {optional_text(country)}, '
                f'"registered_country": {optional_text(registered)}, '
                f'"represented_country": {optional_text(represented)}'
            )
            remember(self._countries, countries, text)
        return text

    def _answer_text(self, answer: CountryAnswer) -> str:
        entry = self._answers.get(id(answer))
        if entry is not None:
            return entry[0]
        head = self._answer_heads.get(_ANSWER_HEAD(answer))
        if head is None:
            head = (
                f'{{"database": {STRING(clean(answer.database))}, '
                f'{self._countries_text(_COUNTRIES(answer))}, "latitude": '
            )
            remember(self._answer_heads, _ANSWER_HEAD(answer), head)
        latitude, longitude = answer.latitude, answer.longitude
        if (answer.accuracy_radius is None and type(latitude) is float
                and type(longitude) is float and isfinite(latitude) and isfinite(longitude)):
            # A point without a radius (each city answer of DB-IP Lite, ~17,000 of them at
            # 100k servers): the numbers by float's repr as scalar_text writes them, and the
            # precision answer_precision gives, without their four calls.
            text = (
                f'{head}{float.__repr__(latitude)}, "longitude": {float.__repr__(longitude)}, '
                f'"accuracy_radius_km": null, "precision": {_POINT_WITHOUT_RADIUS}}}'
            )
        else:
            text = (
                f'{head}{scalar_text(latitude)}, '
                f'"longitude": {scalar_text(longitude)}, '
                f'"accuracy_radius_km": {scalar_text(answer.accuracy_radius)}, '
                f'"precision": {_PRECISION[answer_precision(answer)]}}}'
            )
        remember(self._answers, id(answer), (text, answer))
        return text

    def _confidence_text(self, finding: Finding) -> str:
        """confidence(finding), encoded. With bare evidence it follows from the verdict, the
        basis, the judged country and the countries the location and its answers name."""
        judgement, location = finding.judgement, finding.location
        key = (
            judgement.verdict, judgement.basis, judgement.judged_country, location.country,
            *map(_ANSWER_COUNTRY, location.answers),
        )
        text = self._confidence.get(key)
        if text is None:
            text = STRING(confidence(finding).value)
            remember(self._confidence, key, text)
        return text

