"""Hostile and damaged export packets: the decoder never raises, never hangs, stays bounded.

Mutations start from real softflowd export (fixtures/netflow, made from zoom2.pcap), as the
capture reader's fuzzing starts from valid captures.
"""

from __future__ import annotations

import itertools
import shutil
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.errors import CaptureError
from auditor.sources import read_source
from auditor.sources.export import MAGIC, frames, write_frame
from auditor.sources.netflow import MAX_TEMPLATES, Decoder, FlowRecord
from tests.robustness.hypo import budget

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "netflow"
EXPORTER = "192.0.2.1"


def datagrams(name: str) -> list[bytes]:
    with (FIXTURES / name).open("rb") as stream:
        return [d.data for d in frames(name, stream) if not isinstance(d, int)]


def decode_all(packets: list[bytes]) -> tuple[list[FlowRecord], Decoder]:
    decoder = Decoder()
    return [r for p in packets for r in decoder.decode(p, EXPORTER)], decoder


def v9(*flowsets: bytes) -> bytes:
    return struct.pack("!HHIIII", 9, len(flowsets), 1000, 1_700_000_000, 1, 0) + b"".join(flowsets)


def ipfix(*sets: bytes) -> bytes:
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), 1_700_000_000, 1, 0) + body


def flowset(set_id: int, body: bytes) -> bytes:
    return struct.pack("!HH", set_id, 4 + len(body)) + body


def template(template_id: int, *fields: tuple[int, int]) -> bytes:
    return struct.pack("!HH", template_id, len(fields)) + b"".join(
        struct.pack("!HH", element, length) for element, length in fields
    )


BASIC = ((8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 4), (1, 4))
RECORD = bytes([10, 0, 0, 2, 144, 195, 73, 154]) + struct.pack("!HHBII", 50000, 8801, 17, 3, 300)

# (name, packets, flow records expected, a skip reason expected or None)
CORPUS = [
    ("the netflow package's hang: fields of zero bytes",
     [v9(flowset(0, template(256, (8, 0), (12, 0))), flowset(256, b"\0" * 8))], 0,
     "template of zero-length records"),
    ("no fields at all", [v9(flowset(0, template(256)), flowset(256, b"\0" * 8))], 0,
     "records before their template"),
    ("records before their template", [v9(flowset(300, RECORD))], 0,
     "records before their template"),
    ("template then records", [v9(flowset(0, template(256, *BASIC)), flowset(256, RECORD))], 1,
     None),
    ("records cut short", [v9(flowset(0, template(256, *BASIC)), flowset(256, RECORD[:-3]))], 0,
     None),
    ("set longer than the packet", [v9(flowset(0, template(256, *BASIC)))[:-4]], 0,
     "undecodable export packet"),
    ("set length below its header", [v9(struct.pack("!HH", 256, 2))], 0,
     "undecodable export packet"),
    ("ipfix length beyond the packet", [ipfix(flowset(2, template(256, *BASIC)))[:-1]], 0,
     "undecodable export packet"),
    ("ipfix variable-length address", [ipfix(flowset(2, template(256, (8, 0xFFFF), (12, 4))),
                                             flowset(256, b"\x03abc" + bytes(4)))], 0,
     "flow record without addresses"),
    ("v9 variable length is not allowed", [v9(flowset(0, template(256, (8, 0xFFFF))))], 0,
     "undecodable export packet"),
    ("v5 count beyond the packet", [struct.pack("!HHIIIIBBH", 5, 30, 0, 0, 0, 0, 0, 0, 0)], 0,
     "undecodable export packet"),
    ("unknown version", [b"\x00\x07" + bytes(40)], 0, "undecodable export packet"),
    ("one byte", [b"\x09"], 0, "undecodable export packet"),
    ("empty", [b""], 0, "undecodable export packet"),
    ("huge field count", [v9(flowset(0, struct.pack("!HH", 256, 60000)))], 0,
     "undecodable export packet"),
    ("options template withdrawal", [ipfix(flowset(3, struct.pack("!HH", 256, 0)))], 0, None),
    ("reserved set id", [ipfix(flowset(7, b"\0" * 8))], 0, "reserved set id"),
]


@pytest.mark.parametrize(("packets", "records", "reason"), [c[1:] for c in CORPUS],
                         ids=[c[0] for c in CORPUS])
def test_malformed_export_packets(packets: list[bytes], records: int, reason: str | None) -> None:
    found, decoder = decode_all(packets)
    assert len(found) == records
    if reason is not None:
        assert decoder.skipped[reason] >= 1


def test_a_flood_of_template_ids_keeps_memory_bounded() -> None:
    decoder = Decoder()
    for start in range(0, MAX_TEMPLATES + 2000, 500):
        templates = b"".join(template(256 + i, *BASIC) for i in range(start, start + 500))
        list(decoder.decode(v9(flowset(0, templates)), EXPORTER))
    assert len(decoder.templates) == MAX_TEMPLATES
    assert decoder.templates_dropped


def test_templates_are_kept_per_exporter() -> None:
    decoder = Decoder()
    list(decoder.decode(v9(flowset(0, template(256, *BASIC))), "192.0.2.1"))
    assert list(decoder.decode(v9(flowset(256, RECORD)), "192.0.2.99")) == []
    assert len(list(decoder.decode(v9(flowset(256, RECORD)), "192.0.2.1"))) == 1


def test_real_export_decodes_whole() -> None:
    for name in ("zoom2-v5.flows", "zoom2-v9.flows", "zoom2-ipfix.flows"):
        found, decoder = decode_all(datagrams(name))
        assert len(found) == 8
        assert not decoder.skipped


_counter = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nffuzz")


REAL = [p for name in ("zoom2-v5.flows", "zoom2-v9.flows", "zoom2-ipfix-biflow.flows",
                       "zoom2-v9-sampled-4.flows") for p in datagrams(name)]


@budget(300)
@given(
    picks=st.lists(st.sampled_from(range(len(REAL))), min_size=1, max_size=6),
    flips=st.lists(st.tuples(st.integers(0, 800), st.integers(0, 255)), max_size=10),
    cut=st.integers(0, 900),
)
def test_mutated_real_export_never_breaks_the_decoder(
    scratch: Path, picks: list[int], flips: list[tuple[int, int]], cut: int
) -> None:
    packets = []
    for index in picks:
        data = bytearray(REAL[index][:cut])
        for offset, value in flips:
            if offset < len(data):
                data[offset] = value
        packets.append(bytes(data))
    found, _ = decode_all(packets)  # raises nothing
    for record in found:
        assert 0 <= record.src_port <= 65535
        assert record.sampling >= 1
    path = scratch / f"m{next(_counter)}.flows"
    with path.open("wb") as stream:
        stream.write(MAGIC)
        for packet in packets:
            write_frame(stream, packet, ("127.0.0.1", 9995), 0.0)
    try:
        result = read_source(path)
    except CaptureError as error:
        pytest.fail(f"a well-framed export file must read: {error}")
    assert result.summary.packets == sum(f.packets for f in result.flows)


@budget(200)
@given(st.binary(max_size=600))
def test_random_bytes_never_break_the_decoder(data: bytes) -> None:
    decoder = Decoder()
    for version in (5, 9, 10):
        list(decoder.decode(struct.pack("!H", version) + data, EXPORTER))


NFCAPD = (FIXTURES / "zoom2-v9.nfcapd").read_bytes()


@budget(40)
@given(flips=st.lists(st.tuples(st.integers(0, len(NFCAPD) - 1), st.integers(0, 255)),
                      max_size=6), cut=st.integers(0, len(NFCAPD)))
def test_mutated_nfcapd_file_is_read_or_refused_in_one_line(
    scratch: Path, flips: list[tuple[int, int]], cut: int
) -> None:
    if shutil.which("nfdump") is None:
        pytest.skip("nfdump is not installed (.ci/run installs it)")
    data = bytearray(NFCAPD[:cut])
    for offset, value in flips:
        if offset < len(data):
            data[offset] = value
    path = scratch / f"n{next(_counter)}.nfcapd"
    path.write_bytes(bytes(data))
    try:
        result = read_source(path)
    except CaptureError as error:
        message = str(error)
        assert "internal error" not in message, message
        assert "\n" not in message
        return
    assert result.summary.packets == sum(f.packets for f in result.flows)
