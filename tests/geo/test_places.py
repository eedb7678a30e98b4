"""Country outlines, vantages and hostname hints: the places the evidence stage reasons with."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import pytest

from auditor.geo.geometry import (
    Point,
    countries_within,
    distances_from,
    great_circle_km,
    outlines,
)
from auditor.geo.hints import hint_for, hint_table
from auditor.geo.vantage import VantageError, parse_vantage
from auditor.model import HintSource, VantageSource

AMSTERDAM, LONDON, SINGAPORE = Point(52.37, 4.90), Point(51.51, -0.13), Point(1.35, 103.82)


def test_shipped_outlines_match_their_notice() -> None:
    data = resources.files("auditor") / "data"
    notice = (data / "countries.NOTICE").read_text("utf-8")
    digest = hashlib.sha256((data / "countries.json.gz").read_bytes()).hexdigest()
    assert f"sha256: {digest}" in notice
    assert "Natural Earth" in notice
    assert "public domain" in notice


def test_small_states_have_outlines() -> None:
    """1:110m drops them; a missing country could never be possible by physics."""
    for code in ("SG", "MT", "LU", "LI", "AD", "MC", "BH", "XK"):
        assert code in outlines()


def test_distances() -> None:
    assert great_circle_km(AMSTERDAM, LONDON) == pytest.approx(357, abs=3)
    from_amsterdam = distances_from(AMSTERDAM)
    assert from_amsterdam["NL"] == 0
    assert from_amsterdam["GB"] == pytest.approx(180, abs=40)  # to the Norfolk coast
    assert 9000 < from_amsterdam["SG"] < 11000
    assert distances_from(SINGAPORE)["SG"] == 0


def test_a_long_border_edge_is_measured_to_the_edge_not_its_ends() -> None:
    """The 49th parallel is drawn with few points: a point just south of its middle is close
    to CA although far from every vertex."""
    assert distances_from(Point(48.5, -100.0))["CA"] < 70


def test_countries_within() -> None:
    assert countries_within(AMSTERDAM, 100) >= {"NL"}
    assert "GB" not in countries_within(AMSTERDAM, 150)
    assert {"NL", "GB", "BE", "DE"} <= countries_within(AMSTERDAM, 400)


@pytest.mark.parametrize(
    ("spec", "latitude", "radius"),
    [("59.33,18.07", 59.33, 0), ("Stockholm", 59.33, 50), (" new york ", 40.71, 50)],
)
def test_vantage_points_and_cities(spec: str, latitude: float, radius: float) -> None:
    vantage = parse_vantage(spec)
    assert vantage.latitude == pytest.approx(latitude)
    assert vantage.radius_km == radius
    assert vantage.source is VantageSource.GIVEN


def test_country_vantage_is_a_disk_over_its_main_landmass() -> None:
    vantage = parse_vantage("se", VantageSource.POLICY)
    assert vantage.label == "SE"
    assert 600 < vantage.radius_km < 1000
    assert "SE" in countries_within(Point(vantage.latitude, vantage.longitude), 50)


@pytest.mark.parametrize("spec", ["Atlantis", "91,0", "0,181", "ZZ", ""])
def test_bad_vantage(spec: str) -> None:
    with pytest.raises(VantageError):
        parse_vantage(spec)


@pytest.mark.parametrize(
    ("name", "vendor", "place", "country"),
    [
        ("zoomam104zc.zoom.us", "Zoom", "Amsterdam", "NL"),
        ("ZOOMFR85ZC.zoom.us.", "Zoom", "Frankfurt", "DE"),
        ("ec2-3-1-2-3.eu-central-1.compute.amazonaws.com", "AWS", "Frankfurt", "DE"),
        ("s3.us-east-1.amazonaws.com", "AWS", "Ashburn", "US"),
        ("meet.westeurope.cloudapp.azure.com", "Azure", "Amsterdam", "NL"),
        ("ams15s32-in-f14.1e100.net", "Google", "Amsterdam", "NL"),
        ("run-europe-west4.example.app", "Google Cloud", "Amsterdam", "NL"),
        ("scontent.fmxp1-1.fna.fbcdn.net", "Meta", "Milan", "IT"),
        ("media-ams2-1.cdn.whatsapp.net", "Meta", "Amsterdam", "NL"),
    ],
)
def test_vendor_naming(name: str, vendor: str, place: str, country: str) -> None:
    hint = hint_for(name, HintSource.SNI)
    assert hint is not None
    assert (hint.vendor, hint.place, hint.country) == (vendor, place, country)


@pytest.mark.parametrize(
    "name",
    ["zoom.us", "www3.zoom.us", "zoomxx1.zoom.us", "star-mini.c10r.facebook.com",
     "zoomam104zc.zoom.us.evil.example", "x" * 300 + ".zoom.us"],
)  # fmt: skip
def test_names_that_place_nothing(name: str) -> None:
    assert hint_for(name, HintSource.DNS) is None


def test_every_vendor_code_names_a_site_and_says_where_it_comes_from() -> None:
    table = hint_table()
    for rule in table.rules:
        assert rule.source
        assert "code" in rule.pattern.groupindex
        for key in (rule.codes or {}).values():
            assert key in table.sites, (rule.vendor, key)
    for site in table.sites.values():
        assert re.fullmatch("[A-Z]{2}", site.country)
        assert site.country in outlines(), site
        assert site.country in countries_within(Point(site.latitude, site.longitude), 30), site
