"""A line's spot (its place and its tail, json_spots) is shared only by lines written alike:
places equal under == but written differently never share one, in one chunk or across chunks,
and the spots a chunk meets first, made together, are each its line's own."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from auditor.model import (
    Basis,
    CountryAnswer,
    Finding,
    Judgement,
    Location,
    LocationFlag,
    Policy,
    Verdict,
)
from auditor.report import json_text
from auditor.report.json_format import endpoint_json
from auditor.report.json_rows import EndpointLines
from tests.report.factory import endpoint, policy


def _whole(f: Finding, pol: Policy) -> str:
    """The oracle: the stdlib's own encoding of the whole endpoint object."""
    return json.dumps(endpoint_json(f, pol), ensure_ascii=False, separators=(", ", ": "))


_JUDGED = Judgement(Verdict.ALLOWED, "why", "US", Basis.COUNTRY)
_ANSWERS = (
    CountryAnswer("a.mmdb", "US", None),
    CountryAnswer("b.mmdb", "US", None, latitude=1.5, longitude=2.5),
)


def _alike_but_written(answers: tuple[CountryAnswer, ...]) -> list[Finding]:
    """Places that share one answers tuple (the spot's key names it by identity) and compare
    equal but for how one number is written: an ASN, a radius, an anycast flag."""
    base = Location("192.0.2.1", country="US", city="Zürich", org="AS One", answers=answers)
    numbers = [1, 1.0, True, 0, 0.0, -0.0, False, None, math.nan, 20, 20.0]
    places = [
        *(replace(base, asn=n) for n in numbers),  # type: ignore[arg-type]
        *(replace(base, accuracy_radius=n) for n in numbers),  # type: ignore[arg-type]
        *(replace(base, is_anycast=n) for n in numbers),  # type: ignore[arg-type]
        *(replace(base, is_anycast=n, flags=(LocationFlag.ANYCAST,))  # type: ignore[arg-type]
          for n in numbers),
    ]
    return [Finding(endpoint(f"192.0.2.{i + 1}"), p, _JUDGED) for i, p in enumerate(places)]


@pytest.mark.parametrize("answers", [(), _ANSWERS])
@pytest.mark.parametrize("limit", [3, 20_000])
def test_places_written_differently_never_share_a_spot(
    answers: tuple[CountryAnswer, ...], limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each alone (a chunk each: the written-one-way ones are remembered), then all in one
    chunk and reversed, through one EndpointLines: every line is its own whole encoding."""
    monkeypatch.setattr(json_text, "LIMIT", limit)
    pol = policy()
    findings = _alike_but_written(answers)
    lines = EndpointLines(pol)
    for f in [*findings, *reversed(findings)]:
        assert lines.line(f) == _whole(f, pol)
    for chunk in (findings, findings[::-1]):
        assert lines.chunk(chunk) == [_whole(f, pol) for f in chunk]


def test_a_chunk_written_one_way_remembers_its_spots() -> None:
    """Lines of one place (ints only) share one spot's texts; after a chunk with a float ASN
    (nothing shared), the int ASN's spot is still the int's."""
    pol = policy()
    place = Location("192.0.2.1", country="US", asn=1, answers=_ANSWERS)
    same = [Finding(endpoint(f"192.0.2.{i}"), replace(place, ip=f"192.0.2.{i}"), _JUDGED)
            for i in range(1, 5)]  # fmt: skip
    lines = EndpointLines(pol)
    first = lines.chunk(same)
    assert first == [_whole(f, pol) for f in same]
    floated = Finding(endpoint("192.0.2.9"), replace(place, asn=1.0), _JUDGED)  # type: ignore[arg-type]
    assert lines.chunk([floated, *same]) == [_whole(f, pol) for f in [floated, *same]]
    assert '"asn": 1.0' in lines.line(floated)
    assert all('"asn": 1,' in line for line in lines.chunk(same))
