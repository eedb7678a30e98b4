"""Merging the databases' answers into one place: the one-pass merge against the rule written
out plainly, one expression per field (the merge as it was before it became one pass)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.geo import open_locator
from auditor.geo.layouts import UNKNOWN, Answer
from auditor.geo.locator import _Database
from auditor.geo.merge import _flags, merged_place
from auditor.model import Location, LocationFlag

_CODES = st.sampled_from([None, "", "US", "DE", "cn", "ＣＮ", "EU"])
_TEXTS = st.sampled_from([None, "", "Berlin", "Lyon"])
_NUMBERS = st.sampled_from([None, 0, 1, 20, 499, 500, 501, 5000])
_ANSWERS = st.builds(
    Answer,
    _CODES,
    _CODES,
    _CODES,
    _TEXTS,
    _NUMBERS,
    _TEXTS,
    st.booleans(),
    _NUMBERS,
    st.sampled_from([None, 0.0, -0.0, 52.5]),
    st.sampled_from([None, 0.0, 13.4]),
)


def _plain_merge(
    ip: str, answers: Sequence[tuple[_Database, Answer]], coarse_radius_km: int
) -> Location:
    def has_country(a: Answer) -> bool:
        return bool(a.country or a.registered_country or a.represented_country)

    placed = [(db, a) for db, a in answers if has_country(a)]
    made = [db.country_answer(a) for db, a in placed]
    country_answers = tuple(country_answer for country_answer, _ in made)
    primary = next((a for _, a in placed if a.country), None) or (
        placed[0][1] if placed else UNKNOWN
    )
    owner = next((a for _, a in answers if a.asn is not None or a.org), UNKNOWN)
    radius = primary.accuracy_radius
    if radius is None:
        radius = next((a.accuracy_radius for _, a in answers if a.accuracy_radius), None)
    is_anycast = any(a.is_anycast for _, a in answers)
    return Location(
        ip=ip,
        address_class=None,
        country=primary.country,
        registered_country=primary.registered_country,
        represented_country=primary.represented_country,
        city=primary.city or next((a.city for _, a in answers if a.city), None),
        asn=owner.asn,
        org=owner.org,
        is_anycast=is_anycast,
        accuracy_radius=radius,
        answers=country_answers,
        flags=_flags(primary, country_answers, is_anycast, radius, coarse_radius_km,
                     defective=any(defective for _, defective in made)),
    )  # fmt: skip


def _identical(one: Location, other: Location) -> bool:
    """Equal, and alike in what == cannot see: types, and the sign of a zero."""
    return repr(one) == repr(other) and one == other


def test_the_one_pass_merge_follows_the_rule(test_data: Path) -> None:
    names = ("GeoIP2-City-Test", "GeoLite2-ASN-Test", "GeoIP2-Country-Test")
    with open_locator([str(test_data / f"{name}.mmdb") for name in names]) as locator:
        databases = locator.opened

        @settings(max_examples=400, deadline=None)
        @given(st.lists(_ANSWERS, min_size=0, max_size=3), st.sampled_from([0, 500, 10_000]))
        def check(answers: list[Answer], coarse: int) -> None:
            pairs = list(zip(databases, answers, strict=False))
            expected = _plain_merge("192.0.2.7", pairs, coarse)
            assert _identical(Location("192.0.2.7", *merged_place(pairs, coarse)), expected)

        check()


def test_a_dispute_alone_is_flagged(test_data: Path) -> None:
    """Two valid countries that differ, and no other doubt: merged_place tells the dispute in
    its pass, where _flags is not asked (the random answers above seldom reach this)."""
    names = ("GeoIP2-City-Test", "GeoIP2-Country-Test", "GeoLite2-ASN-Test")
    with open_locator([str(test_data / f"{name}.mmdb") for name in names]) as locator:
        databases = locator.opened
        for countries, flags in (
            (("US", "DE", None), (LocationFlag.DISPUTED,)),
            (("US", "US", None), ()),
            (("US", None, "DE"), (LocationFlag.DISPUTED,)),
            ((None, "US", "US"), ()),
        ):
            pairs = [(db, Answer(code)) for db, code in zip(databases, countries, strict=True)]
            place = merged_place(pairs, 500)
            assert place[10] == flags
            assert _identical(Location("192.0.2.7", *place), _plain_merge("192.0.2.7", pairs, 500))
