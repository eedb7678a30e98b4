"""The locator reads GeoIP2-shaped records raw: every record of MaxMind's test databases gives
the same answer as geoip2's own model of it (the oracle), and the bundled databases too."""

from __future__ import annotations

from pathlib import Path

import geoip2.database
import maxminddb
import pytest
from geoip2.models import ASN, ISP, City, Country

from auditor.geo.layouts import (
    Answer,
    Layout,
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
