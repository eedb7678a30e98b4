"""The locator reads GeoIP2-shaped records raw: every record of MaxMind's test databases gives
the same answer as geoip2's own model of it (the oracle), and the bundled databases too."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import geoip2.database
import maxminddb
import pytest
from geoip2.models import ASN, ISP, City, Country
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.geo.layouts import (
    Answer,
    Layout,
    answer_by_sections,
    answer_from_geoip2_record,
    coordinate,
    detect_layout,
    integer,
    text,
)

EDITIONS = (
    "GeoIP2-Country-Test.mmdb",
    "GeoIP2-City-Test.mmdb",
    "GeoLite2-Country-Test.mmdb",
    "GeoLite2-City-Test.mmdb",
    "GeoLite2-ASN-Test.mmdb",
    "GeoIP2-ISP-Test.mmdb",
    "GeoIP2-Enterprise-Test.mmdb",
)
_METHODS = {
    Layout.GEOIP2_ENTERPRISE: "enterprise",
    Layout.GEOIP2_CITY: "city",
    Layout.GEOIP2_COUNTRY: "country",
    Layout.GEOIP2_ASN: "asn",
    Layout.GEOIP2_ISP: "isp",
}


def answer_from_geoip2(model: Country | ASN) -> Answer:
    """Flatten a geoip2 model into an Answer, reading only what its class defines."""
    if isinstance(model, ISP):  # before ASN: ISP is its subclass
        return Answer(
            asn=integer(model.autonomous_system_number),
            # The ISP's own name is what this database adds over an ASN database.
            org=text(model.isp)
            or text(model.autonomous_system_organization)
            or text(model.organization),
        )
    if isinstance(model, ASN):
        return Answer(
            asn=integer(model.autonomous_system_number),
            org=text(model.autonomous_system_organization),
        )
    traits = model.traits
    # Enterprise is a City subclass; a Country model has neither city nor accuracy.
    city = model.city.name if isinstance(model, City) else None
    place = model.location if isinstance(model, City) else None
    radius = place.accuracy_radius if place is not None else None
    return Answer(
        country=text(model.country.iso_code),
        registered_country=text(model.registered_country.iso_code),
        represented_country=text(model.represented_country.iso_code),
        city=text(city),
        asn=integer(getattr(traits, "autonomous_system_number", None)),
        org=text(getattr(traits, "autonomous_system_organization", None))
        or text(getattr(traits, "organization", None)),
        is_anycast=getattr(traits, "is_anycast", False) is True,
        accuracy_radius=integer(radius),
        latitude=coordinate(place.latitude, 90.0) if place is not None else None,
        longitude=coordinate(place.longitude, 180.0) if place is not None else None,
    )


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_record_reads_as_geoip2_reads_it(test_data: Path, edition: str) -> None:
    path = str(test_data / edition)
    raw = maxminddb.open_database(path)
    layout = detect_layout(raw.metadata().database_type)
    assert layout is not None
    assert layout.uses_geoip2
    method = getattr(geoip2.database.Reader(path), _METHODS[layout])
    compared = 0
    for network, record in raw:
        address = str(network.network_address)
        assert answer_from_geoip2_record(layout, record) == answer_from_geoip2(method(address))
        compared += 1
    assert compared > 10


@pytest.mark.parametrize("record", [{"country": "CN"}, {"traits": []}, {"location": 5}, []])
def test_a_section_that_is_no_map_is_a_corrupt_record(record: object) -> None:
    with pytest.raises(TypeError):
        answer_from_geoip2_record(Layout.GEOIP2_CITY, record)


# A value the reader could give anywhere, or a crafted record could: every type it decodes
# and the edges the flattening tells apart (a True from a 1, a -0.0, NaN, a coordinate bound).
_VALUES = st.sampled_from(
    [None, "", "US", "Berlin", True, False, 0, 1, 15169, 2**70, 1.0, -0.0, 90.0, 90.5, -180.0,
     180.5, math.nan, math.inf, [], ["US"], b"US"]
)  # fmt: skip
_FIELDS = (
    "iso_code", "names", "en", "accuracy_radius", "latitude", "longitude", "is_anycast",
    "autonomous_system_number", "autonomous_system_organization", "organization",
)  # fmt: skip
_SECTIONS = (
    "country", "registered_country", "represented_country", "traits", "location", "city",
)  # fmt: skip


def _maps(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    # The reader's dicts, and Mappings that are no dict (a dict subclass, a read-only view).
    plain = st.dictionaries(st.sampled_from(_FIELDS), children, max_size=6)
    return st.one_of(
        plain,
        plain.map(_Subclass),
        plain.map(MappingProxyType),
    )


class _Subclass(dict[str, object]):
    pass


_SECTION_VALUES = st.recursive(_VALUES, _maps, max_leaves=8)
# Records shaped as the reader gives them, mostly: plain dicts whose sections hold the fields
# read, a value of any kind in each; and now and then a section of another kind.
_ODD = st.one_of(_VALUES, _maps(_VALUES))
_NAMES = st.one_of(st.fixed_dictionaries({}, optional={"en": _VALUES}), _ODD)
_DEGREES = st.sampled_from(
    [None, 0, True, -0.0, 52.5, 90.0, -90.0, 90.5, -90.5, 180.0, -180.0, 180.5, -180.5, 2**70,
     math.nan, math.inf, "52.5"]
)  # fmt: skip
_FIELD_VALUES = {"names": _NAMES, "latitude": _DEGREES, "longitude": _DEGREES}
_SECTION = st.fixed_dictionaries(
    {}, optional={field: _FIELD_VALUES.get(field, _VALUES) for field in _FIELDS}
)
# As the reader gives them: every section a plain dict (read inline).
_READERS = st.fixed_dictionaries({}, optional=dict.fromkeys(_SECTIONS, _SECTION))
# Sections of any kind, corrupt ones among them (read by sections).
_RECORDS = st.one_of(
    st.fixed_dictionaries({}, optional=dict.fromkeys(_SECTIONS, st.one_of(_SECTION, _ODD))),
    st.dictionaries(st.sampled_from(_SECTIONS), _SECTION_VALUES, max_size=6),
    _SECTION_VALUES,
)


def _outcome(layout: Layout, record: object, flatten: Callable[[Layout, object], Answer]) -> str:
    """The answer's repr (which tells a True from a 1 and a -0.0 from a 0.0), or the error."""
    try:
        return repr(flatten(layout, record))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(list(_METHODS)), _READERS)
def test_the_inline_reading_is_the_reading_by_sections(layout: Layout, record: object) -> None:
    """answer_from_geoip2_record reads the reader's dicts inline: every such record, whatever
    its fields hold, gives what answer_by_sections gives (the oracle)."""
    assert _outcome(layout, record, answer_from_geoip2_record) == _outcome(
        layout, record, answer_by_sections
    )


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(list(_METHODS)), _RECORDS)
def test_any_record_is_read_as_by_sections(layout: Layout, record: object) -> None:
    """Any other record, a corrupt one among them, too: the same answer or the same error."""
    assert _outcome(layout, record, answer_from_geoip2_record) == _outcome(
        layout, record, answer_by_sections
    )


def test_the_inline_reading_of_a_whole_city_record() -> None:
    record = {
        "country": {"iso_code": "DE"},
        "registered_country": {"iso_code": "NL"},
        "represented_country": {"iso_code": "US"},
        "city": {"names": {"en": "Berlin"}},
        "location": {"accuracy_radius": 20, "latitude": -0.0, "longitude": 180.0},
        "traits": {"autonomous_system_number": 3320, "organization": "DT", "is_anycast": True},
    }
    answer = answer_from_geoip2_record(Layout.GEOIP2_CITY, record)
    assert answer == Answer("DE", "NL", "US", "Berlin", 3320, "DT", True, 20, -0.0, 180.0)
    assert type(answer) is Answer
    assert answer.latitude is not None
    assert math.copysign(1.0, answer.latitude) == -1.0
