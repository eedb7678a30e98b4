"""Merging the databases' answers for one address into one place: which answer is the
primary, who owns the network, and the doubts worth a flag (anycast, registered elsewhere,
disputed, coarse, defective)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.geo.layouts import UNKNOWN, Answer
from auditor.model import CountryAnswer, LocationFlag

if TYPE_CHECKING:
    from auditor.geo.locator import _Database

Place = tuple[
    None, str | None, str | None, str | None, str | None, int | None, str | None, bool,
    int | None, tuple[CountryAnswer, ...], tuple[LocationFlag, ...],
]  # fmt: skip


def merged_place(answers: Sequence[tuple[_Database, Answer]], coarse_radius_km: int) -> Place:
    """One place from each database's answer, first database first; flags the doubts.

    Of the databases that give a country, the first that
    gives a location country is the primary (else the first of them); the network owner is the
    first answer with an AS number or organisation; a city or radius the primary lacks comes
    from the first answer that has one. One pass over the answers: a place is merged once,
    but a capture of public servers has tens of thousands of places."""
    country_answers: list[CountryAnswer] = []
    primary = first_placed = owner = None
    city = radius = None  # the first of any answer's
    is_anycast = defective = disputed = False
    first_country = None  # the first country answer's country, to tell a dispute in the pass
    for db, answer in answers:
        if answer.country or answer.registered_country or answer.represented_country:
            # db.country_answer's cache read inline (a call for each of ~45k country answers
            # at public-100k cost ~0.02 s); made by it when not held.
            held = db.country_answers.get(id(answer))
            if held is not None and held[0] is answer:
                _, made, bad = held
            else:
                made, bad = db.country_answer(answer)
            country_answers.append(made)
            if bad:
                defective = True
            if first_placed is None:
                first_placed = answer
            if answer.country:
                if primary is None:
                    primary = answer
                    first_country = answer.country
                elif answer.country != first_country:
                    disputed = True
        if owner is None and (answer.asn is not None or answer.org):
            owner = answer
        if city is None and answer.city:
            city = answer.city
        if radius is None and answer.accuracy_radius:
            radius = answer.accuracy_radius
        if answer.is_anycast:
            is_anycast = True
    primary = primary or first_placed or UNKNOWN
    owner = owner or UNKNOWN
    if primary.accuracy_radius is not None:
        radius = primary.accuracy_radius
    country, registered = primary.country, primary.registered_country
    placed = tuple(country_answers)
    if (
        is_anycast
        or disputed
        or defective
        or (country and registered and country != registered)
        or (radius is not None and radius > coarse_radius_km)
    ):
        flags = _flags(primary, placed, is_anycast, radius, coarse_radius_km,
                       defective=defective)  # fmt: skip
    else:
        flags = ()  # no doubt: _flags' calls and set skipped for most places
    return (
        None,
        country,
        registered,
        primary.represented_country,
        primary.city or city,
        owner.asn,
        owner.org,
        is_anycast,
        radius,
        placed,
        flags,
    )


def _flags(
    primary: Answer,
    answers: tuple[CountryAnswer, ...],
    is_anycast: bool,
    radius: int | None,
    coarse_radius_km: int,
    *,
    defective: bool,
) -> tuple[LocationFlag, ...]:
    flags: list[LocationFlag] = []
    if is_anycast:
        flags.append(LocationFlag.ANYCAST)
    country, registered = primary.country, primary.registered_country
    if country and registered and country != registered:
        flags.append(LocationFlag.REGISTERED_ELSEWHERE)
    if len({a.country for a in answers if a.country}) > 1:
        flags.append(LocationFlag.DISPUTED)
    if radius is not None and radius > coarse_radius_km:
        flags.append(LocationFlag.COARSE)
    if defective:
        # A full-width "ＣＮ", a lower-case "cn", a region "EU": not a place a policy can judge,
        # and a sign the database is not what it claims to be.
        flags.append(LocationFlag.DEFECTIVE)
    return tuple(flags)
