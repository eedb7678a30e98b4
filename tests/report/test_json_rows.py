"""The JSON report's endpoint lines, made from shared parts, are the whole line's encoding."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.model import (
    Acceptance,
    AcceptedBy,
    CountryAnswer,
    Evidence,
    Finding,
    HintSource,
    HostnameHint,
    Location,
    Policy,
    Role,
    RoleClaim,
    RoundTrip,
    RoundTripKind,
    Verdict,
)
from auditor.report import json_rows, json_text
from auditor.report.escape import clean, clean_each
from auditor.report.json_format import endpoint_json, sighting_json
from auditor.report.json_rows import (
    EndpointLines,
    json_times,
    sighting_chunk,
    sighting_line,
    sighting_lines,
    sighting_texts,
)
from auditor.report.json_text import ONE_LINE
from auditor.report.times import iso_time, iso_times
from tests.report.factory import (
    batch_result,
    endpoint,
    finding,
    judgement,
    policy,
    sample_result,
)
from tests.report.hostile import HOSTILE


def _hostile_findings() -> list[Finding]:
    """Every hostile string in every field a capture or database fills, and the rarer parts:
    an acceptance, round trips and hints, times no datetime can show."""
    pol = policy(deny="CN")
    found: list[Finding] = []
    for name, text in HOSTILE.items():
        ep = endpoint(
            f"198.51.100.{len(found) + 1}",
            hostnames=(text, "ok.example"),
            ports=(text,),
            platform=text,
            roles=(RoleClaim(Role.MEDIA, text),),
            captures=(text, f"{name}.pcap"),
            first_seen=-1.5,
            last_seen=1e20,
        )
        answers = (CountryAnswer(text, "CN", text, latitude=1.5, longitude=math.nan),)
        location = Location(ep.ip, country="CN", city=text, org=text, answers=answers)
        found.append(finding(ep, location, pol))
    accepted = replace(
        found[0], acceptance=Acceptance(AcceptedBy.EXCEPTION, HOSTILE["bidi"], "DPA", "2027-01-31")
    )
    trips = Evidence(
        round_trips=(RoundTrip("a.pcap", RoundTripKind.TCP_HANDSHAKE, 0.0123, 3),),
        hints=(
            HostnameHint("fra.example", "v", "fra", "Frankfurt", "DE", 50.1, 8.7, HintSource.SNI),
        ),
        set_aside=(HOSTILE["nul"],),
    )
    return [*found, accepted, replace(found[1], evidence=trips)]


CASES = {
    "sample": list(sample_result().findings),
    "batch": list(batch_result().findings),
    "hostile": _hostile_findings(),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_line_is_the_whole_encoding(case: str) -> None:
    findings = CASES[case]
    pol = policy(deny="CN")
    lines = EndpointLines(pol)
    for _pass in range(2):  # the second pass reads every shared part from the cache
        for f in findings:
            assert lines.line(f) == ONE_LINE(endpoint_json(f, pol))
            assert sighting_line(f) == ONE_LINE(sighting_json(f))


def test_endpoints_placed_alike_share_parts_but_not_their_own_fields() -> None:
    pol = policy()
    shared = Location("", country="US", answers=(CountryAnswer("a.mmdb", "US", None),))
    a = finding(endpoint("192.0.2.1", bytes=5, hostnames=("a.example",)), replace(shared, ip="1"))
    b = finding(endpoint("192.0.2.2", bytes=6), replace(shared, ip="2"))
    # The same answers (one tuple), any other field of the place different: not shared.
    elsewhere = [
        finding(endpoint("192.0.2.3"), replace(shared, ip="3", city="Paris")),
        finding(endpoint("192.0.2.4"), replace(shared, ip="4", country="CN")),
        finding(endpoint("192.0.2.5"), replace(shared, ip="5", asn=64500, org="x")),
        finding(endpoint("192.0.2.6"), replace(shared, ip="6", registered_country="CN")),
    ]
    lines = EndpointLines(pol)
    for f in (a, b, *elsewhere, a):
        assert lines.line(f) == ONE_LINE(endpoint_json(f, pol))


def _slowly(epoch: float) -> str | None:
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


@given(st.one_of(st.floats(), st.floats(0, 4e10), st.integers(-(2**40), 2**40)))
def test_iso_time_is_datetimes(epoch: float) -> None:
    assert iso_time(epoch) == _slowly(epoch)


@pytest.mark.parametrize(
    "epoch", [1700000000.0000005, 1700000000.0000015, 1699999999.9999999, 0.0, 2.5e-6, 1e20]
)
def test_iso_time_rounds_microseconds_as_datetime_does(epoch: float) -> None:
    assert iso_time(epoch) == _slowly(epoch)


def test_a_place_judged_two_ways_and_answers_met_again_elsewhere() -> None:
    """One place's evidence under two judgements (the confidence differs), and one database
    answer in two places: each line still the whole encoding, whichever came first."""
    pol = policy(deny="CN")
    city = CountryAnswer(
        "city.mmdb", "US", None, latitude=40.7, longitude=-74.0, accuracy_radius=20
    )
    here = Location("", country="US", accuracy_radius=20, answers=(city,))
    there = Location("", country="US", answers=(city, CountryAnswer("c.mmdb", "US", "CN")))
    first = finding(endpoint("192.0.2.1"), replace(here, ip="192.0.2.1"), pol)
    unknown = replace(first, judgement=judgement(Verdict.UNKNOWN, "no verdict"))
    third = finding(endpoint("192.0.2.3"), replace(there, ip="192.0.2.3"), pol)
    lines = EndpointLines(pol)
    for f in (first, unknown, third, first, unknown, third):
        assert lines.line(f) == ONE_LINE(endpoint_json(f, pol))


def _whole(f: Finding, pol: Policy) -> str:
    """The oracle: the stdlib's own encoding of the whole endpoint object."""
    return json.dumps(endpoint_json(f, pol), ensure_ascii=False, separators=(", ", ": "))


def _mixed_findings() -> list[Finding]:
    """One place and one judgement shared by a plain finding, an accepted one and one with
    evidence of its own (which must never be given the plain one's cached text), beside every
    other case, each met twice."""
    plain = CASES["sample"][0]
    accepted = replace(
        plain, acceptance=Acceptance(AcceptedBy.EXCEPTION, "asn 1", HOSTILE["ansi"], "2027-01-31")
    )
    trips = Evidence(round_trips=(RoundTrip("a.pcap", RoundTripKind.TCP_HANDSHAKE, 0.02, 1),))
    own = replace(plain, evidence=trips)
    every = [f for case in CASES.values() for f in case]
    return [plain, accepted, own, *every, own, accepted, plain, *every]


@pytest.mark.parametrize("limit", [3, 20_000])
def test_lines_made_a_chunk_at_a_time_are_each_whole_encoding(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many findings per chunk, shared parts met in any order, caches emptied (limit 3) or
    not: each line is still that finding's whole encoding."""
    monkeypatch.setattr(json_text, "LIMIT", limit)
    pol = policy(deny="CN")
    findings = _mixed_findings()
    lines = EndpointLines(pol)
    for chunk in (findings, findings[::-1], findings[:3]):
        assert lines.chunk(chunk) == [_whole(f, pol) for f in chunk]
    assert list(lines.lines(findings)) == [_whole(f, pol) for f in findings]
    sightings = [json.dumps(sighting_json(f), ensure_ascii=False, separators=(", ", ": "))
                 for f in findings]
    assert sighting_chunk(findings) == sightings
    assert list(sighting_lines(findings)) == sightings


@pytest.mark.parametrize("chunk", [1, 3, 4, 2048])
def test_texts_are_the_lines_a_chunk_at_a_time(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text per chunk of lines (the last chunk short or not): the opener before the first
    line, the separator before every other, each line the whole encoding."""
    monkeypatch.setattr(json_rows, "CHUNK", chunk)
    pol = policy(deny="CN")
    findings = _mixed_findings()[: 3 * 4 + 1]
    wanted = [_whole(f, pol) for f in findings]
    texts = list(EndpointLines(pol).texts(findings, "[\n  ", ",\n  "))
    assert len(texts) == math.ceil(len(findings) / chunk)
    assert "".join(texts) == "[\n  " + ",\n  ".join(wanted)
    assert all(text.startswith(",\n  {") for text in texts[1:])
    sightings = [ONE_LINE(sighting_json(f)) for f in findings]
    assert "".join(sighting_texts(findings, "<", "|")) == "<" + "|".join(sightings)
    assert list(sighting_texts([], "[", ",")) == []
    assert list(EndpointLines(pol).texts([], "[", ",")) == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON)
def test_one_line_is_the_stdlib_encoding(value: object) -> None:
    assert ONE_LINE(value) == json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


_EPOCHS = st.lists(
    st.one_of(st.none(), st.floats(), st.floats(0, 4e10), st.floats(1.7e9, 1.7e9 + 3)),
    max_size=30,
)


@given(_EPOCHS)
def test_iso_times_are_each_iso_time(epochs: list[float | None]) -> None:
    assert iso_times(epochs) == [iso_time(e) for e in epochs]


@given(_EPOCHS)
def test_json_times_are_each_iso_time_encoded(epochs: list[float | None]) -> None:
    assert json_times(epochs) == [ONE_LINE(iso_time(e)) for e in epochs]


@pytest.mark.parametrize(
    "epochs",
    [
        # One second, different microseconds: the second's text is shared, never the fraction.
        [1700000000.25, 1700000000.000001, 1700000000.999999, 1700000000.0, 1700000001.5],
        [1700000000.9999996, 1700000000.5],  # rounds up into the next second
        [1700000000.0000005, 1700000000.0000015, 0.0, 2.5e-6],  # half to even, as datetime
        [1700000000.5, None, math.nan],
        [-1.5, 1700000000.5],
        [1e20, 1700000000.5],
    ],
)
def test_iso_times_of_a_column_as_datetime_writes_them(epochs: list[float | None]) -> None:
    assert iso_times(epochs) == [_slowly(e) if e is not None else None for e in epochs]


@given(st.lists(st.text() | st.sampled_from(list(HOSTILE.values())), max_size=8))
def test_clean_each_is_clean_of_each(texts: list[str]) -> None:
    assert clean_each(texts) == [clean(t) for t in texts]


def test_clean_each_escapes_one_hostile_text_among_safe_ones() -> None:
    texts = ["192.0.2.1", HOSTILE["ansi"], "2001:db8::1"]
    cleaned = clean_each(texts)
    assert cleaned[0] == texts[0]
    assert cleaned[2] == texts[2]
    assert "\x1b" not in cleaned[1]
    assert cleaned[1] == clean(HOSTILE["ansi"])


# Addresses as captures give them, and texts with what clean() or the encoder must change: a
# quote, a backslash, control and format characters, non-ASCII.
_ADDRESSY = st.text(alphabet=st.sampled_from('0123456789abcdef.:"\\\x1b\x7f\u202eé '), max_size=6)


@given(st.lists(_ADDRESSY | st.sampled_from(list(HOSTILE.values())), max_size=8))
def test_string_column_is_the_encoding_of_each_cleaned_text(texts: list[str]) -> None:
    """Each item between the column's quotes is STRING(clean(text)); the texts are given as they
    are only when that is so (printable ASCII without a quote or a backslash)."""
    quote, column = json_text.string_column(texts)
    assert [quote + item + quote for item in column] == [
        json.dumps(clean(t), ensure_ascii=False) for t in texts
    ]
    safe = all(t.isascii() and t.isprintable() and '"' not in t and "\\" not in t for t in texts)
    assert (quote == '"') is safe


@pytest.mark.parametrize("hostile", ['1.2.3.4"', "a\\u0022", "\x1b[31m", "\u202e1", "é", "a\x7f"])
def test_string_column_encodes_a_whole_column_with_one_hostile_address(hostile: str) -> None:
    texts = ["192.0.2.1", hostile, "2001:db8::1"]
    quote, column = json_text.string_column(texts)
    assert quote == ""
    assert column == [json.dumps(clean(t), ensure_ascii=False) for t in texts]
