"""Each database answer in the JSON report carries its point and radius, and says what it is
worth: a radius of hundreds of km is a country guess, labelled so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.geo.precision import COUNTRY_GUESS_KM, AnswerPrecision, answer_precision
from auditor.model import CountryAnswer
from fixtures.meeting import Server
from tests.test_cli import run, write_meeting

GB = Server("81.2.69.161", 3478, "udp", 4)  # GeoIP2-City-Test: London, radius 100 km
BT = Server("67.43.156.1", 8801, "udp", 6)  # GeoIP2-City-Test: Bhutan's centre, radius 534 km


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (CountryAnswer("a", "SE", "SE"), AnswerPrecision.COUNTRY_ONLY),
        (CountryAnswer("a", "NL", None, None, 52.37, 4.9), AnswerPrecision.POINT_WITHOUT_RADIUS),
        (CountryAnswer("a", "NL", None, None, 52.37, 4.9, 20), AnswerPrecision.CITY),
        (CountryAnswer("a", "US", None, None, 37.75, -97.8, COUNTRY_GUESS_KM - 1),
         AnswerPrecision.CITY),
        (CountryAnswer("a", "US", None, None, 37.75, -97.8, COUNTRY_GUESS_KM),
         AnswerPrecision.COUNTRY_GUESS),
        (CountryAnswer("a", "US", None, None, 37.75, -97.8, 1000), AnswerPrecision.COUNTRY_GUESS),
    ],
)  # fmt: skip
def test_precision_of_an_answer(answer: CountryAnswer, expected: AnswerPrecision) -> None:
    assert answer_precision(answer) is expected


def test_json_answers_carry_point_radius_and_precision(tmp_path: Path, shared_data: Path) -> None:
    city = str(shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb")
    country = str(shared_data / "mmdb" / "test-data" / "GeoIP2-Country-Test.mmdb")
    capture = write_meeting(tmp_path / "m.pcap", [GB, BT])
    status, out, err = run([str(capture), "--db", city, "--db", country, "--allow", "GB,BT",
                       "--format", "json"])  # fmt: skip
    assert status == 0, err
    endpoints = {e["ip"]: e for e in json.loads(out)["endpoints"]}
    london = endpoints[GB.ip]
    # MaxMind's own values for the address (geoip2 reads the same file).
    assert london["answers"][0] == {
        "database": city, "country": "GB", "registered_country": "US",
        "represented_country": None, "latitude": 51.5142, "longitude": -0.0931,
        "accuracy_radius_km": 100, "precision": "city",
    }  # fmt: skip
    assert london["answers"][1]["database"] == country
    assert london["answers"][1]["precision"] == "country-only"
    assert london["answers"][1]["latitude"] is None
    bhutan = endpoints[BT.ip]["answers"][0]
    assert (bhutan["accuracy_radius_km"], bhutan["precision"]) == (534, "country-guess")
    # The evidence block carries the same answers.
    assert endpoints[BT.ip]["evidence"]["answers"] == endpoints[BT.ip]["answers"]
