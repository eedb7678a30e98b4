"""Malformed and hostile Zeek logs: counted, warned about, escaped; never a traceback."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.errors import CaptureError
from auditor.model import CaptureResult
from auditor.report import get_format
from auditor.sources import lines, read_source
from tests.robustness.hypo import budget
from tests.sources.util import audit

REAL = (Path(__file__).resolve().parents[2] / "fixtures" / "zeek" / "wikipedia" / "conn.log")
HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration"
    "\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\thistory\ttunnel_parents\n"
)
GOOD = "1.5\tC1\t10.0.0.2\t5000\t144.195.73.154\t8801\tudp\t-\t2.0\t3\t300\t2\t200\t-\t-\n"

# (name, rows after the header, flows expected, rows skipped)
MALFORMED = [
    ("too few columns", "1.5\tC1\t10.0.0.2\n", 0, 1),
    ("too many columns", GOOD.rstrip("\n") + "\textra\n", 0, 1),
    ("address is not an address", GOOD.replace("144.195.73.154", "zoom.us"), 0, 1),
    ("unknown protocol", GOOD.replace("\tudp\t", "\tquic\t"), 0, 1),
    ("negative count", GOOD.replace("\t3\t300", "\t-3\t300"), 1, 0),
    ("unicode digits", GOOD.replace("\t3\t300", "\t\u00b3\t\u0663"), 1, 0),  # int() takes them
    ("huge count", GOOD.replace("\t3\t300", "\t" + "9" * 400 + "\t300"), 1, 0),
    ("port out of range", GOOD.replace("\t8801\t", "\t99999999\t"), 1, 0),
    ("nan and inf times", GOOD.replace("1.5\t", "nan\t").replace("2.0", "inf"), 1, 0),
    ("binary junk", "\x00\x01\x02\xff\n" + GOOD, 1, 1),
    ("json in a tsv log", '{"uid": 1}\n' + GOOD, 1, 1),
    ("a second header midway", HEADER + GOOD, 1, 0),
    ("only a header", "", 0, 0),
]


@pytest.mark.parametrize(("rows", "flows", "skipped"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_rows_are_counted_not_fatal(
    tmp_path: Path, rows: str, flows: int, skipped: int
) -> None:
    path = tmp_path / "conn.log"
    path.write_bytes((HEADER + rows).encode("utf-8"))
    result = read_source(path)
    assert len(result.flows) == flows
    assert sum(result.summary.skipped.values()) == skipped
    assert result.summary.complete


JSON_MALFORMED = [
    ("not an object", "[1, 2]\n"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000 + "\n"),
    ("wrong types", '{"uid": 5, "id.orig_h": 7, "id.resp_h": [], "proto": {}}\n'),
    ("bool counts", '{"uid":"C","id.orig_h":"10.0.0.2","id.resp_h":"144.195.73.154",'
     '"proto":"udp","orig_pkts":true,"id.orig_p":"x","conn_state":"S0"}\n'),
    ("cut mid-object", '{"uid":"C","id.orig_h":"10.0.0.2","id.resp_h":"1'),
]


@pytest.mark.parametrize("text", [m[1] for m in JSON_MALFORMED], ids=[m[0] for m in JSON_MALFORMED])
def test_malformed_json_rows(tmp_path: Path, text: str) -> None:
    path = tmp_path / "conn.log"
    first = '{"ts":1.0,"uid":"C0","id.orig_h":"10.0.0.2","id.orig_p":1,"id.resp_h":"8.8.8.8",'
    first += '"id.resp_p":53,"proto":"udp","orig_pkts":1,"orig_ip_bytes":60,"conn_state":"S0"}\n'
    path.write_text(first + text)
    result = read_source(path)
    assert len(result.flows) in (1, 2)
    assert result.summary.complete


@pytest.mark.parametrize("extra", [10, 3 << 20], ids=["in one chunk", "over several chunks"])
def test_overlong_line_is_skipped_with_a_warning(tmp_path: Path, extra: int) -> None:
    path = tmp_path / "conn.log"
    path.write_text(HEADER + "1" * (lines.MAX_LINE + extra) + "\n" + GOOD)
    result = read_source(path)
    assert len(result.flows) == 1
    assert result.summary.skipped == {"overlong line": 1}


def test_cut_gzip_log_keeps_what_came_before_and_is_incomplete(tmp_path: Path) -> None:
    data = gzip.compress(REAL.read_bytes())
    path = tmp_path / "conn.log.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    result = read_source(path)
    assert not result.summary.complete
    assert 0 < len(result.flows) < len(read_source(REAL).flows)
    assert any("damaged" in w for w in result.summary.warnings)


def test_hostile_names_are_escaped_in_every_report(tmp_path: Path) -> None:
    (tmp_path / "conn.log").write_text(HEADER + GOOD)
    hostile = "evil\\x1b[31m\\xe2\\x80\\xae.example"  # Zeek's escaping of ESC and U+202E
    (tmp_path / "dns.log").write_text(
        "#separator \\x09\n#set_separator\t,\n#fields\tts\tuid\tquery\tanswers\n"
        f"1.0\tC9\t{hostile}\t144.195.73.154\n"
    )
    result = audit(tmp_path / "conn.log")
    (finding,) = result.findings
    assert "\x1b" in finding.endpoint.hostnames[0]  # kept as data...
    for name in ("text", "json", "csv", "html", "sarif", "junit"):
        rendered = get_format(name).render(result)
        assert "\x1b" not in rendered  # ...and escaped on output
        assert "\u202e" not in rendered


_counter = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zeekfuzz")


def _read(scratch: Path, data: bytes, name: str) -> CaptureResult | None:
    folder = scratch / str(next(_counter))
    folder.mkdir()
    path = folder / name
    path.write_bytes(data)
    try:
        return read_source(path)
    except CaptureError as error:
        message = str(error)
    assert "internal error" not in message, message
    return None


@budget(150)
@given(
    cut=st.integers(0, 6000),
    flips=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 255)), max_size=8),
    compress=st.booleans(),
)
def test_mutated_real_log_never_breaks_the_reader(
    scratch: Path, cut: int, flips: list[tuple[int, int]], compress: bool
) -> None:
    data = bytearray(REAL.read_bytes()[:cut])
    for offset, value in flips:
        if offset < len(data):
            data[offset] = value
    raw = bytes(data)
    result = _read(scratch, gzip.compress(raw) if compress else raw, "conn.log")
    if result is not None:
        assert result.summary.packets == sum(f.packets for f in result.flows)


@budget(150)
@given(st.lists(st.one_of(st.text(max_size=80), st.binary(max_size=80)), max_size=12))
def test_random_json_lines_never_break_the_reader(scratch: Path, parts: list[str | bytes]) -> None:
    body = b"\n".join(
        p if isinstance(p, bytes) else p.encode("utf-8", "surrogatepass") for p in parts
    )
    head = b'{"ts":1.0,"uid":"C0","id.orig_h":"10.0.0.2","id.resp_h":"8.8.8.8","proto":"udp"}\n'
    _read(scratch, head + body, "conn.log")
