"""The vantage inferred from the capture host's addresses as STUN servers saw them (mapped), and
the real captures scored against the vantage they reveal."""

from __future__ import annotations

from auditor.geo.evidence import capture_trips
from auditor.geo.vantage import inferred_vantage
from auditor.model import CountryAnswer, Location, VantagePlace, VantageSource

HOST = "10.0.0.1"


def _placed(ip: str, *countries: str) -> Location:
    answers = tuple(CountryAnswer(f"db{n}.mmdb", c, c) for n, c in enumerate(countries))
    return Location(ip, country=countries[0], answers=answers)


def test_mapped_addresses_in_one_country_give_its_disk() -> None:
    found = inferred_vantage(
        "c.pcap", [_placed("93.35.171.209", "IT", "IT"), _placed("93.47.225.70", "IT")],
        VantageSource.STUN_MAPPED,
    )  # fmt: skip
    assert found is not None
    assert (found.source, found.place, found.capture) == (
        VantageSource.STUN_MAPPED, VantagePlace.COUNTRY, "c.pcap"
    )
    assert found.label == "93.35.171.209, 93.47.225.70 (IT)"
    assert 500 < found.radius_km < 1200  # Italy's main landmass


def test_no_vantage_when_the_host_is_seen_from_two_countries_or_disputed() -> None:
    two = [_placed("93.35.171.209", "IT"), _placed("82.178.63.123", "OM")]
    assert inferred_vantage("c", two, VantageSource.STUN_MAPPED) is None
    disputed = [_placed("93.35.171.209", "IT", "FR")]
    assert inferred_vantage("c", disputed, VantageSource.STUN_MAPPED) is None
    assert inferred_vantage("c", [Location("93.35.171.209")], VantageSource.STUN_MAPPED) is None
    assert inferred_vantage("c", [], VantageSource.STUN_MAPPED) is None


def test_only_the_hosts_own_mapped_addresses_count() -> None:
    """An ICE peer's answer sent by the host names the peer's address: not the vantage."""
    trips = capture_trips(
        "c", [], [], frozenset({HOST}), None,
        mapped=[(HOST, "93.35.171.209"), ("192.0.2.50", "81.2.69.160"), (HOST, "10.9.9.9")],
    )  # fmt: skip
    assert trips.mapped == {"93.35.171.209"}
