"""The mmdb layouts the auditor reads, and how each record becomes one small answer tuple."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple, TypeGuard


class Layout(StrEnum):
    """How a database's records are shaped; GEOIP2_* as geoip2's models read them (the tests
    hold geoip2 as the oracle; the auditor reads the raw records, geoip2 is not imported)."""

    GEOIP2_ENTERPRISE = "geoip2-enterprise"
    GEOIP2_CITY = "geoip2-city"
    GEOIP2_COUNTRY = "geoip2-country"
    GEOIP2_ASN = "geoip2-asn"
    GEOIP2_ISP = "geoip2-isp"
    IP_LOCATION_DB = "ip-location-db"
    IPINFO = "ipinfo"

    @property
    def uses_geoip2(self) -> bool:
        return self.value.startswith("geoip2-")


class Answer(NamedTuple):
    """What one database says about one network; cached, so kept small and immutable."""

    country: str | None = None
    registered_country: str | None = None
    represented_country: str | None = None
    city: str | None = None
    asn: int | None = None
    org: str | None = None
    is_anycast: bool = False
    accuracy_radius: int | None = None
    latitude: float | None = None
    longitude: float | None = None


UNKNOWN = Answer()
# Answer's fields as a tuple, without the Python __new__ NamedTuple gives it (a frame for each
# of public-100k's 20.9k City records).
_new_tuple = tuple.__new__

# ip-location-db names its files' types "country ipv4", "asn ipvAll", "city ipv6"...
_IP_LOCATION_DB_TYPE = re.compile(r"(country|asn|city)\s+ipv(4|6|all)", re.IGNORECASE)


def detect_layout(database_type: str) -> Layout | None:
    """The layout a database_type names, or None when the auditor cannot read it.

    The substrings are the ones geoip2's Reader checks (case-sensitive) before each method, so
    DB-IP's "DBIP-City-Lite" or "DBIP-ASN-Lite (compat=GeoLite2-ASN)" dispatch the same way.
    """
    if database_type.lower().startswith("ipinfo"):
        return Layout.IPINFO
    if _IP_LOCATION_DB_TYPE.fullmatch(database_type.strip()):
        return Layout.IP_LOCATION_DB
    for needle, layout in (
        ("Enterprise", Layout.GEOIP2_ENTERPRISE),
        ("City", Layout.GEOIP2_CITY),
        ("Country", Layout.GEOIP2_COUNTRY),
        ("GeoLite2-ASN", Layout.GEOIP2_ASN),
        ("GeoIP2-ISP", Layout.GEOIP2_ISP),
    ):
        if needle in database_type:
            return layout
    return None


def text(value: object) -> str | None:
    """A string from the database, or None: crafted records may put anything anywhere."""
    return value if isinstance(value, str) and value else None


def integer(value: object) -> int | None:
    # bool is an int subclass; a crafted record's true is not AS1.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def coordinate(value: object, bound: float) -> float | None:
    """A latitude (bound 90) or longitude (bound 180) in degrees, or None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    degrees = float(value)
    # NaN fails both comparisons: a crafted record's NaN or infinity is no place.
    return degrees if -bound <= degrees <= bound else None


def answer_from_geoip2_record(layout: Layout, record: object) -> Answer:
    """Flatten a raw record of a GeoIP2-shaped database, reading what geoip2's model of that
    layout would (tests/geo/test_raw_records.py compares them), without building the model:
    the maxminddb reader's dict is read directly, several times faster. A section that is
    there but no map is a corrupt record, as it is for geoip2 (TypeError).

    A place layout's record whose sections are all the reader's dicts (or missing) is read
    inline, with no call per field (public-100k's City: 20.9k records, ~0.06 -> ~0.035 CPU s);
    any other record, a corrupt one among them, takes answer_by_sections, which says what is
    wrong exactly as before (tests/geo/test_raw_records.py holds the two equal)."""
    if type(record) is dict and layout is not Layout.GEOIP2_ISP and layout is not Layout.GEOIP2_ASN:
        answer = _answer_from_dicts(layout, record)
        if answer is not None:
            return answer
    return answer_by_sections(layout, record)


def _answer_from_dicts(layout: Layout, record: dict[str, Any]) -> Answer | None:
    """answer_by_sections of a place layout's record, or None when a section it reads is
    there but no dict (answer_by_sections then raises or reads a Mapping). Straight-line:
    a loop or comprehension over the sections cost more than it saved."""
    get = record.get
    country = get("country")
    if country is not None:
        if type(country) is not dict:
            return None
        country = country.get("iso_code")
        if not isinstance(country, str) or not country:
            country = None
    registered = get("registered_country")
    if registered is not None:
        if type(registered) is not dict:
            return None
        registered = registered.get("iso_code")
        if not isinstance(registered, str) or not registered:
            registered = None
    represented = get("represented_country")
    if represented is not None:
        if type(represented) is not dict:
            return None
        represented = represented.get("iso_code")
        if not isinstance(represented, str) or not represented:
            represented = None
    traits = get("traits")
    asn = org = city = latitude = longitude = radius = None
    is_anycast = False
    if traits is not None:
        if type(traits) is not dict:
            return None
        if traits:
            asn = traits.get("autonomous_system_number")
            if not isinstance(asn, int) or isinstance(asn, bool):
                asn = None
            org = traits.get("autonomous_system_organization")
            if not isinstance(org, str) or not org:
                org = traits.get("organization")
                if not isinstance(org, str) or not org:
                    org = None
            is_anycast = traits.get("is_anycast") is True
    if layout is Layout.GEOIP2_CITY or layout is Layout.GEOIP2_ENTERPRISE:
        place = get("location")
        if place is not None:
            if type(place) is not dict:
                return None
            if place:
                radius = place.get("accuracy_radius")
                if not isinstance(radius, int) or isinstance(radius, bool):
                    radius = None
                # coordinate(), inline: the reader gives a float, checked as coordinate would.
                latitude = place.get("latitude")
                if type(latitude) is float and -90.0 <= latitude <= 90.0:
                    pass
                else:
                    latitude = coordinate(latitude, 90.0)
                longitude = place.get("longitude")
                if type(longitude) is float and -180.0 <= longitude <= 180.0:
                    pass
                else:
                    longitude = coordinate(longitude, 180.0)
        named = get("city")
        if named is not None:
            if type(named) is not dict:
                return None
            names = named.get("names")
            if names is not None:
                if type(names) is not dict:
                    return None
                city = names.get("en")
                if not isinstance(city, str) or not city:
                    city = None
    # Positional, in Answer's field order: the keyword form cost a share of the whole lookup.
    return _new_tuple(Answer, (
        country, registered, represented, city, asn, org, is_anycast, radius, latitude, longitude
    ))  # fmt: skip


def answer_by_sections(layout: Layout, record: object) -> Answer:
    """answer_from_geoip2_record's reading, a call per section and field: any Mapping, and the
    TypeError a corrupt record's section gives."""
    if not _is_map(record):
        raise TypeError(f"record is a {type(record).__name__}, not a map")
    if layout is Layout.GEOIP2_ISP:
        org = (
            text(record.get("isp"))
            or text(record.get("autonomous_system_organization"))
            or text(record.get("organization"))
        )
        return _network_owner(integer(record.get("autonomous_system_number")), org)
    if layout is Layout.GEOIP2_ASN:
        return _network_owner(
            integer(record.get("autonomous_system_number")),
            text(record.get("autonomous_system_organization")),
        )
    traits = _section(record, "traits")
    asn = org = None
    if traits:
        asn = integer(traits.get("autonomous_system_number"))
        org = text(traits.get("autonomous_system_organization")) or text(traits.get("organization"))
    city = latitude = longitude = radius = None
    # Compared by identity: a set membership test hashed the enum member in Python each time.
    if layout is Layout.GEOIP2_CITY or layout is Layout.GEOIP2_ENTERPRISE:
        place = _section(record, "location")
        if place:
            radius = integer(place.get("accuracy_radius"))
            latitude = coordinate(place.get("latitude"), 90.0)
            longitude = coordinate(place.get("longitude"), 180.0)
        city = text(_section(_section(record, "city"), "names").get("en"))
    # Positional, in Answer's field order: the keyword form cost a share of the whole lookup.
    return Answer(
        _iso_code(record, "country"),
        _iso_code(record, "registered_country"),
        _iso_code(record, "represented_country"),
        city,
        asn,
        org,
        bool(traits) and traits.get("is_anycast") is True,
        radius,
        latitude,
        longitude,
    )


def _network_owner(asn: int | None, org: str | None) -> Answer:
    # Positional, in Answer's field order: the keyword form cost a share of the whole lookup.
    return Answer(None, None, None, None, asn, org)


def _is_map(value: object) -> TypeGuard[Mapping[str, Any]]:
    """isinstance(value, Mapping), answered at once for the reader's dicts (an ABC check cost a
    share of the whole lookup)."""
    return type(value) is dict or isinstance(value, Mapping)


def _iso_code(record: Mapping[str, Any], key: str) -> str | None:
    """text(record[key]["iso_code"]) of a section that may be missing (a map when present)."""
    found = record.get(key)
    if found is None:
        return None
    if not _is_map(found):
        raise TypeError(f"{key} is a {type(found).__name__}, not a map")
    return text(found.get("iso_code"))


def _section(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = record.get(key)
    if found is None:
        return {}
    if not _is_map(found):
        raise TypeError(f"{key} is a {type(found).__name__}, not a map")
    return found


def answer_from_record(layout: Layout, record: object) -> Answer:
    """Flatten a raw maxminddb record of an ip-location-db or IPinfo database."""
    if not _is_map(record):
        raise TypeError(f"record is a {type(record).__name__}, not a map")
    if layout is Layout.IPINFO:
        return _ipinfo_answer(record)
    return Answer(
        country=text(record.get("country_code")),
        city=text(record.get("city")),
        asn=integer(record.get("autonomous_system_number")),
        org=text(record.get("autonomous_system_organization")),
        latitude=coordinate(record.get("latitude"), 90.0),
        longitude=coordinate(record.get("longitude"), 180.0),
    )


def _ipinfo_answer(record: Mapping[str, Any]) -> Answer:
    # IPinfo Lite has country_code + country (a name); the older free files put the code
    # in "country" and the name in "country_name".
    country = text(record.get("country_code"))
    if country is None:
        candidate = text(record.get("country"))
        country = candidate if candidate is not None and len(candidate) == 2 else None
    return Answer(
        country=country,
        city=text(record.get("city")),
        asn=parse_asn(record.get("asn")),
        org=text(record.get("as_name")),
    )


def parse_asn(value: object) -> int | None:
    """An AS number from 15169, "15169" or "AS15169"; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        digits = value.upper().removeprefix("AS")
        if digits.isascii() and digits.isdigit():
            return int(digits)
    return None
