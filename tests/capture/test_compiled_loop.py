"""The compiled packet loops (auditor/capture/_loop.c) against the pure-Python ones, their oracle:
the same flow table, to the type of every counter, on real, odd and generated captures."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.capture import fastpath
from auditor.capture.decode import decode_packet
from auditor.capture.fastpath import directions
from auditor.capture.flowtable import FlowTable
from auditor.capture.formats import opened
from auditor.capture.pcap import _pcap_records
from auditor.capture.pcapng import _epb_records
from auditor.errors import CaptureError
from tests.capture.makecap import (
    Packet,
    PcapngSection,
    ether,
    ipv4,
    ipv6,
    pcap_file,
    pcapng_file,
    tcp,
    udp,
)
from tests.capture.test_fast_slow import PORTS, capture, damaged

REPO = Path(__file__).resolve().parents[2]
DEMOS = [REPO / "fixtures" / "demo-meeting.pcap", REPO / "fixtures" / "demo-meeting.pcapng"]
SHARED = Path(os.environ.get("AUDITOR_SHARED_DATA", "../shared/data"))  # listing cases only
REAL = sorted(
    f"{folder}/{p.name}"
    for folder in ("meetings", "corpus")
    if (SHARED / "pcaps" / folder).is_dir()
    for p in (SHARED / "pcaps" / folder).glob("*.pcap*")
)
DEMO_RECORDS = DEMOS[0].read_bytes()[24 : 24 + 16_384]  # real records, cut anywhere


@pytest.fixture(autouse=True)
def built() -> None:
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")


@pytest.mark.parametrize("missing", [*fastpath.NEEDED, None])
def test_a_build_older_than_the_source_is_not_taken(
    monkeypatch: pytest.MonkeyPatch, missing: str | None
) -> None:
    """An in-place build a checkout was pulled past lacks the newer functions: the pure-Python
    loops run then, rather than an audit ending in an ImportError half-way (seen: tally_rows)."""
    import types

    stale = types.ModuleType("auditor.capture._loop")
    for name in fastpath.NEEDED:
        if name != missing:
            setattr(stale, name, print)
    monkeypatch.setitem(sys.modules, "auditor.capture._loop", stale)
    import auditor.capture

    monkeypatch.setattr(auditor.capture, "_loop", stale, raising=False)
    assert fastpath._built() is (missing is None)


def test_the_compiled_loop_is_built_where_ci_requires_it() -> None:
    """.ci/run exports AUDITOR_REQUIRE_COMPILED=1: a build that failed silently (the extension
    is optional) must not pass CI on the pure-Python loops alone."""
    if os.environ.get("AUDITOR_REQUIRE_COMPILED") != "1":
        pytest.skip("AUDITOR_REQUIRE_COMPILED is not set")
    from auditor.capture import _loop

    assert fastpath.BUILT
    assert fastpath.compiled
    assert _loop.__file__ is not None
    assert Path(_loop.__file__).suffix in {".so", ".pyd"}


def _plain(value: object) -> object:
    """A value as comparable data with every type named: the loops must agree that a counter is
    the int 1 and not the float 1.0, and on the order of every dict."""
    if isinstance(value, dict):
        return [(_plain(k), _plain(v)) for k, v in value.items()]
    if isinstance(value, set | frozenset):
        return sorted(repr(_plain(v)) for v in value)
    if isinstance(value, list | tuple):
        return type(value).__name__, [_plain(v) for v in value]
    slots = getattr(type(value), "__slots__", None)
    if slots:
        return type(value).__name__, [(s, _plain(getattr(value, s))) for s in slots]
    return type(value).__name__, value


def table_state(ft: FlowTable) -> object:
    return [(name, _plain(getattr(ft, name))) for name in FlowTable.__slots__]


def read_table(path: Path) -> tuple[object, object]:
    """One pass over ``path`` as the readers make it: how it ended, and the table it left."""
    ft = FlowTable()
    try:
        with opened(str(path)) as (src, head, fmt):
            ended: object = fmt.reader(src, ft, None, fast=True).run(head[fmt.first_record :])
    except CaptureError as error:
        ended = str(error)
    return ended, table_state(ft)


def assert_loops_agree(path: Path) -> None:
    compiled = read_table(path)
    with fastpath.python_loop():
        assert not fastpath.compiled
        python = read_table(path)
    assert fastpath.compiled
    assert compiled == python


@pytest.mark.parametrize("path", DEMOS, ids=lambda p: p.name)
def test_demo_captures(path: Path) -> None:
    assert_loops_agree(path)


@pytest.mark.parametrize("name", REAL)
def test_real_and_odd_captures(shared_data: Path, name: str) -> None:
    assert_loops_agree(shared_data / "pcaps" / name)


def test_small_chunks_make_records_straddle_every_refill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("auditor.capture.source.CHUNK", 61)
    for path in DEMOS:
        assert_loops_agree(path)


@contextlib.contextmanager
def written(data: bytes) -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "capture"
        path.write_bytes(data)
        yield path


EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@EXAMPLES
@given(capture())
def test_generated_captures(data: bytes) -> None:
    with written(data) as path:
        assert_loops_agree(path)


@EXAMPLES
@given(damaged())
def test_damaged_generated_captures(data: bytes) -> None:
    with written(data) as path:
        assert_loops_agree(path)


@st.composite
def busy_frame(draw: st.DrawFn, direction: tuple[int, int, int, int, int]) -> bytes:
    version, proto, sport, dport, tags = direction
    payload = bytes(draw(st.integers(0, 80)))
    if proto == 6:
        segment = tcp(sport, dport, draw(st.sampled_from([0x02, 0x12, 0x10, 0x18])), payload)
    else:
        segment = udp(sport, dport, payload)
    if version == 4:
        total = draw(st.sampled_from([None, None, None, 20, 33, 34, 41, 1500]))
        packet = ipv4("10.0.0.1", "192.0.2.7", proto, segment, total=total)
        frame = ether(packet, 0x0800, (0x8100,) * tags)
    else:
        plen = draw(st.sampled_from([None, None, None, 13, 14, 21, 1500]))
        frame = ether(ipv6("2001:db8::1", "2001:db8::2", proto, segment, plen=plen), 0x86DD)
    # Cut where the loops test a captured length, or anywhere.
    cuts = [47, 48, 51, 52, 53, 67, 68, 69, len(frame) - 1, len(frame)]
    cut = draw(st.one_of(st.sampled_from(cuts), st.integers(0, len(frame))))
    return frame if draw(st.booleans()) else frame[:cut]


@st.composite
def busy_frames(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    """A few directions with many packets each, so that they leave the taps for the tables
    (past a UDP direction's 32 tapped packets), with times going back and forth and frames
    cut at every length the loops test: (time in ms, frame)."""
    directions = draw(st.lists(
        st.tuples(st.sampled_from([4, 6]), st.sampled_from([6, 17]), st.sampled_from(PORTS),
                  st.sampled_from(PORTS), st.integers(0, 1)),
        min_size=1, max_size=3,
    ))  # fmt: skip
    count = draw(st.integers(1, 90))
    return [
        (draw(st.integers(0, 10**6)), draw(busy_frame(draw(st.sampled_from(directions)))))
        for _ in range(count)
    ]


@st.composite
def busy_directions(draw: st.DrawFn) -> bytes:
    frames = draw(busy_frames())
    if draw(st.booleans()):
        endian, nano = draw(st.sampled_from(["<", ">"])), draw(st.booleans())
        return pcap_file([(1_600_000_000 + t / 1000, f) for t, f in frames], endian=endian,
                         nano=nano)  # fmt: skip
    packets: list[Packet | bytes] = [Packet(f, units=t) for t, f in frames]
    return pcapng_file([PcapngSection(draw(st.sampled_from(["<", ">"])), packets=packets)])


@EXAMPLES
@given(busy_directions())
def test_busy_directions(data: bytes) -> None:
    with written(data) as path:
        assert_loops_agree(path)


@st.composite
def mutated_records(draw: st.DrawFn) -> bytes:
    """The demo's records with a few bytes changed and the end cut anywhere."""
    data = bytearray(DEMO_RECORDS)
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@EXAMPLES
@given(mutated_records())
def test_mutated_real_records(records: bytes) -> None:
    with written(DEMOS[0].read_bytes()[:24] + records) as path:
        assert_loops_agree(path)


@EXAMPLES
@given(st.booleans(), st.booleans(), st.binary(max_size=3000))
def test_random_bytes_after_a_header(little: bool, nano: bool, records: bytes) -> None:
    header = pcap_file([], endian="<" if little else ">", nano=nano)
    with written(header + records) as path:
        assert_loops_agree(path)


Loop = Callable[..., tuple[Any, ...]]


def new_table(limits: tuple[int | None, bool]) -> FlowTable:
    """A table with room for ``max_flows`` directions (None: the default), of a byte range
    that starts mid-file or not (where the first packet's time of a TCP direction is kept)."""
    max_flows, mid_file = limits
    ft = FlowTable(max_flows)
    if mid_file:
        ft.orphans = []
    return ft


LIMITS = st.tuples(st.sampled_from([None, None, 0, 1, 5]), st.booleans())


def call_pcap(
    records: Loop, buf: bytes, pos: int, n: int, limits: tuple[int | None, bool] = (None, False)
) -> tuple[object, object]:
    ft = new_table(limits)
    out = records(bytearray(buf), pos, n, 0, True, False, ft, directions(ft), decode_packet)
    return out, table_state(ft)


@EXAMPLES
@given(st.data())
def test_the_loops_stop_at_the_same_place_in_a_partly_filled_buffer(data: st.DataObject) -> None:
    """The bytes past ``n`` are the next records, as a refill leaves them: whole packets the
    loop must not count, nor read."""
    from auditor.capture._loop import pcap_records

    buf = data.draw(mutated_records()) + DEMO_RECORDS
    n = data.draw(st.integers(0, len(buf)))
    pos = data.draw(st.integers(0, n))
    limits = data.draw(LIMITS)
    compiled = call_pcap(pcap_records, buf, pos, n, limits)
    assert compiled == call_pcap(_pcap_records, buf, pos, n, limits)


def pcapng_demo_blocks() -> bytes:
    frames = [
        ether(ipv4("10.0.0.1", "192.0.2.7", 17, udp(5000 + i % 7, 3478, b"x" * i)))
        for i in range(60)
    ]
    packets: list[Packet | bytes] = [Packet(f, units=1_000_000 * i) for i, f in enumerate(frames)]
    section = pcapng_file([PcapngSection("<", packets=packets)])
    return section[section.index(b"\x06\x00\x00\x00") :]  # the first EPB on


def call_epb(
    records: Loop, buf: bytes, pos: int, n: int, limits: tuple[int | None, bool] = (None, False)
) -> tuple[object, object]:
    ft = new_table(limits)
    out = records(bytearray(buf), pos, n, 0, 0.0, True, 1, 1e6, ft, directions(ft), decode_packet)
    return out, table_state(ft)


@EXAMPLES
@given(st.data())
def test_the_epb_loops_agree_on_a_cut_or_changed_buffer(data: st.DataObject) -> None:
    from auditor.capture._loop import epb_records

    buf = bytearray(pcapng_demo_blocks())
    for _ in range(data.draw(st.integers(0, 4))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    n = data.draw(st.integers(0, len(buf)))
    pos = data.draw(st.sampled_from([0, data.draw(st.integers(0, n))]))
    limits = data.draw(LIMITS)
    compiled = call_epb(epb_records, bytes(buf), pos, n, limits)
    assert compiled == call_epb(_epb_records, bytes(buf), pos, n, limits)


@st.composite
def busy_records(draw: st.DrawFn) -> bytes:
    """busy_frames as the records of a little-endian pcap, without the file header."""
    frames = draw(busy_frames())
    return pcap_file([(1_600_000_000 + t / 1000, f) for t, f in frames])[24:]


@EXAMPLES
@given(busy_records(), LIMITS)
def test_full_tables_and_ranges_starting_mid_file(
    buf: bytes, limits: tuple[int | None, bool]
) -> None:
    """Directions the table has no room for (the spill), and the first times a range starting
    mid-file keeps: the compiled loop hands the first to add_untabled and does the second."""
    from auditor.capture._loop import pcap_records

    compiled = call_pcap(pcap_records, buf, 0, len(buf), limits)
    assert compiled == call_pcap(_pcap_records, buf, 0, len(buf), limits)


def test_every_record_of_the_demo_is_counted_by_the_compiled_loop() -> None:
    """Not a vacuous agreement: the compiled loop itself ran and counted the records."""
    from auditor.capture._loop import pcap_records

    ft = FlowTable()
    buf = bytearray(DEMO_RECORDS)
    pos, frame = pcap_records(buf, 0, len(buf), 0, True, False, ft, directions(ft), decode_packet)
    assert frame > 50
    assert sum(int(r[0]) for r in [*ft.tables[6].values(), *ft.tables[17].values()]) > 0
    assert len(DEMO_RECORDS) - pos < 16 + 1514  # stopped only within the last record


def _raising(*_args: object) -> Any:
    raise RuntimeError("from the callback")


@pytest.mark.parametrize("which", ["add", "look", "decode"])
def test_an_error_in_a_callback_propagates(which: str) -> None:
    from auditor.capture._loop import pcap_records

    ft = FlowTable()
    into = directions(ft)
    calls: dict[str, Any] = {"add": into.add, "look": into.look, "decode": decode_packet}
    calls[which] = _raising
    arp = pcap_file([(1.0, ether(bytes(28), 0x0806))], endian="<")[24:]  # for the decoder
    buf = bytearray(arp + DEMO_RECORDS)
    into = into._replace(add=calls["add"], look=calls["look"])
    with pytest.raises(RuntimeError, match="from the callback"):
        pcap_records(buf, 0, len(buf), 0, True, False, ft, into, calls["decode"])
    buf.extend(b"x")  # the buffer was released: it can be resized again


@pytest.mark.parametrize(
    ("buf", "pos", "n", "error"),
    [
        (b"\x00" * 100, 0, 100, TypeError),  # bytes, not the reader's bytearray
        (bytearray(100), 0, 101, ValueError),  # a fill past the buffer's end
        (bytearray(100), 60, 50, ValueError),
        (bytearray(100), -1, 50, ValueError),
    ],
)
def test_arguments_outside_the_buffer_are_refused(
    buf: bytes, pos: int, n: int, error: type[Exception]
) -> None:
    from auditor.capture._loop import pcap_records

    ft = FlowTable()
    with pytest.raises(error):
        pcap_records(buf, pos, n, 0, True, False, ft, directions(ft), decode_packet)  # type: ignore[arg-type]


def test_no_memory_is_kept_per_call() -> None:
    """Reference counts right: reading the same records into fresh tables again and again
    leaves no object behind (a key, an int or a float leaked per packet would)."""
    from auditor.capture._loop import pcap_records

    buf = bytearray(DEMO_RECORDS)

    def once() -> None:
        ft = FlowTable()
        pcap_records(buf, 0, len(buf), 0, True, False, ft, directions(ft), decode_packet)

    for _ in range(20):
        once()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            once()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes kept after 300 reads of {len(buf)} bytes"


def _audit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, check=False,
        cwd=REPO, env=env,
    )  # fmt: skip


WITHOUT_LOOP = "import sys; sys.modules['auditor.capture._loop'] = None; "


def test_an_install_without_the_compiled_loop_gives_the_same_report() -> None:
    """As a build without a compiler would run: the extension cannot be imported."""
    demo = str(DEMOS[0])
    audit = ["--allow", "US,EU", "--format", "json"]
    compiled = _audit("-m", "auditor", demo, *audit)
    python = _audit("-c", WITHOUT_LOOP + "from auditor.__main__ import run; run()", demo, *audit)
    assert compiled.returncode == python.returncode == 1, python.stderr
    reports = [json.loads(p.stdout) for p in (compiled, python)]
    for report in reports:
        report.pop("generated_at")
    assert reports[0] == reports[1]
    version = _audit("-c", WITHOUT_LOOP + "from auditor.__main__ import run; run()", "--version")
    assert "pure-Python packet loop" in version.stdout
    assert "compiled packet loop" in _audit("-m", "auditor", "--version").stdout
