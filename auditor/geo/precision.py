"""How precise one database answer claims to be: a point with a small radius, a country guess,
a point with no radius, or a country alone."""

from __future__ import annotations

from enum import StrEnum

from auditor.model import CountryAnswer

# MaxMind gives radii of 1,000 km (and 500, 200) to answers that are little more than the
# country: a disk that size covers a whole small country (the Netherlands is about 300 km
# across) and says nothing a country answer does not. "Hundreds of km" starts here.
COUNTRY_GUESS_KM = 200


class AnswerPrecision(StrEnum):
    """What an answer's place is worth, as the report labels it."""

    CITY = "city"  # a point and a radius under COUNTRY_GUESS_KM
    COUNTRY_GUESS = "country-guess"  # a point whose radius is hundreds of km: the country only
    POINT_WITHOUT_RADIUS = "point-without-radius"  # a point, no stated radius (DB-IP Lite)
    COUNTRY_ONLY = "country-only"  # no point at all (a country database)


def answer_precision(answer: CountryAnswer) -> AnswerPrecision:
    if answer.latitude is None or answer.longitude is None:
        return AnswerPrecision.COUNTRY_ONLY
    if answer.accuracy_radius is None:
        return AnswerPrecision.POINT_WITHOUT_RADIUS
    if answer.accuracy_radius >= COUNTRY_GUESS_KM:
        return AnswerPrecision.COUNTRY_GUESS
    return AnswerPrecision.CITY
