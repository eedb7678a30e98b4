"""Damaged and hostile WebRTC dumps: one line naming the file, or a partial read; no traceback."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.errors import CaptureError
from auditor.report import get_format
from auditor.sources import read_source
from tests.robustness.hypo import budget
from tests.sources.test_webrtc import MEETING, WEBRTC, internals_dump
from tests.sources.util import audit

BAD = [
    ("cut mid-document", '{"PeerConnections": {"1-1": {"stats": {', "not a readable WebRTC dump"),
    ("deep nesting", '{"PeerConnections": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "not a readable WebRTC dump"),
    ("no peer connection", '{"PeerConnections": {"1-1": 5}}', "no peer connection stats"),
    ("stats of the wrong type", '{"PeerConnections": {"1-1": {"stats": []}}}',
     "no peer connection stats"),
    ("getStats without pairs", '[{"id": "a", "type": "codec", "timestamp": 1}]',
     "no peer connection stats"),
]


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_unreadable_dumps_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "dump.txt"
    path.write_text(text)
    with pytest.raises(CaptureError, match=message) as caught:
        read_source(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


ODD_VALUES = [
    ("values not json", {"CPa_b-bytesSent": {"statsType": "candidate-pair", "values": "[1,"}}),
    ("values empty", {"CPa_b-bytesSent": {"statsType": "candidate-pair", "values": "[]"}}),
    ("infinite and negative counters", {"CPa_b-bytesSent": {
        "statsType": "candidate-pair", "values": "[Infinity, -5, 1e400]"}}),
    ("address not an address", {"Ib-address": {"statsType": "remote-candidate",
                                               "values": '["\\u001b[31mzoom.us"]'}}),
    ("port out of range", {"Ib-port": {"statsType": "remote-candidate", "values": "[99999999]"}}),
    ("hostile turn url", {"Ia-url": {"statsType": "local-candidate",
                                     "values": '["turn:[::1:99999999999?x"]'}}),
    ("pair pointing nowhere", {"CPa_b-remoteCandidateId": {"statsType": "candidate-pair",
                                                           "values": '["missing"]'}}),
    ("booleans as counters", {"CPa_b-bytesSent": {"statsType": "candidate-pair",
                                                  "values": "[true]"}}),
]


@pytest.mark.parametrize("overrides", [o[1] for o in ODD_VALUES], ids=[o[0] for o in ODD_VALUES])
def test_odd_values_are_read_around(tmp_path: Path, overrides: dict[str, object]) -> None:
    dump = internals_dump(MEETING)
    dump["PeerConnections"]["12-1"]["stats"].update(overrides)
    path = tmp_path / "dump.txt"
    path.write_text(json.dumps(dump))
    result = read_source(path)
    for flow in result.flows:
        assert 0 <= flow.b_port <= 65535
        assert flow.bytes >= 0


def test_hostile_strings_never_reach_a_report_raw(tmp_path: Path) -> None:
    stats = {k: dict(v) for k, v in MEETING.items()}
    stats["Ib"]["address"] = "\x1b]0;pwned\x07"  # not an address: no endpoint, no echo
    path = tmp_path / "dump\u202e.txt"
    path.write_text(json.dumps(internals_dump(stats)))
    result = audit(path)
    for name in ("text", "json", "csv", "html", "sarif", "junit"):
        rendered = get_format(name).render(result)
        assert "\x1b" not in rendered
        assert "\u202e" not in rendered


def test_cut_gzip_dump_is_an_error_naming_the_damage(tmp_path: Path) -> None:
    data = gzip.compress((WEBRTC / "chromium-getstats-p2p.json").read_bytes())
    path = tmp_path / "dump.json.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CaptureError, match="damaged"):
        read_source(path)


_counter = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("webrtcfuzz")


def _read(scratch: Path, data: bytes) -> None:
    path = scratch / f"d{next(_counter)}.json"
    path.write_bytes(data)
    try:
        read_source(path)
    except CaptureError as error:
        message = str(error)
        assert "internal error" not in message, message


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["id", "type", "address", "port", "protocol", "candidateType",
                         "localCandidateId", "remoteCandidateId", "nominated", "bytesSent",
                         "selectedCandidatePairId", "url", "relayProtocol", "timestamp",
                         "candidate-pair", "remote-candidate", "local-candidate"]) | st.text(),
        inner, max_size=6),
    max_leaves=40,
)


@budget(200)
@given(st.lists(JSON, max_size=8))
def test_random_getstats_shapes_never_break_the_reader(scratch: Path, items: list[object]) -> None:
    _read(scratch, json.dumps([*items, {"id": "p", "type": "candidate-pair"}]).encode())


REAL = (WEBRTC / "chromium-getstats-relay.json").read_bytes()


@budget(150)
@given(flips=st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(0, 255)),
                      max_size=6), cut=st.integers(0, len(REAL)))
def test_mutated_real_dump_never_breaks_the_reader(
    scratch: Path, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(REAL[:cut])
    for offset, value in flips:
        if offset < len(data):
            data[offset] = value
    _read(scratch, bytes(data))


def test_a_dump_over_the_size_cap_is_refused_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.sources import webrtc

    monkeypatch.setattr(webrtc, "MAX_DOCUMENT", 4096)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(internals_dump(MEETING)) + " " * 8192)
    with pytest.raises(CaptureError, match="larger than"):
        read_source(path)
