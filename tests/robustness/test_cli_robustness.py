"""Hostile input through the real command line: one line on stderr, the right exit status, no
traceback, no partial report, bounded memory.

Every run is a subprocess of ``python -m auditor``; memory is the child's peak RSS, measured by a
small wrapper process so that earlier children of the test run do not count.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

MB = 1024 * 1024
RSS_LIMIT = 200 * MB
SHARED = os.environ.get("AUDITOR_SHARED_DATA", "")

# Runs a command and prints its peak RSS (the largest of it and its own children) last on stderr.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'peak-rss-kb {peak}', file=sys.stderr)\n"
    "sys.exit(done.returncode)\n"
)


@dataclass(frozen=True)
class Run:
    status: int
    stdout: str
    stderr_lines: list[str]
    peak_rss: int  # bytes


def audit(*args: str | Path, db: Path, timeout: float = 300) -> Run:
    command = [sys.executable, "-c", _MEASURE, sys.executable, "-m", "auditor", *map(str, args),
               "--db", str(db), "--allow", "US", "--max-db-age", "1e9"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    lines = done.stderr.splitlines()
    peak = int(lines.pop().split()[-1]) * 1024 if lines and lines[-1].startswith("peak-rss") else 0
    return Run(done.returncode, done.stdout, lines, peak)


def assert_one_error_line(run: Run, naming: Path | str) -> None:
    text = "\n".join(run.stderr_lines)
    assert "Traceback" not in text, text
    assert run.status == 2, text
    assert len(run.stderr_lines) == 1, text
    assert run.stderr_lines[0].startswith("audit: error: "), text
    assert str(naming) in run.stderr_lines[0], text


@pytest.fixture(scope="session")
def city_db(shared_data: Path) -> Path:
    return shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb"


@pytest.fixture(scope="session")
def demo() -> Path:
    return Path(__file__).resolve().parents[2] / "fixtures" / "demo-meeting.pcap"


# --- corrupt databases -------------------------------------------------------------------------


def _bad_databases() -> list[str]:
    folder = Path(SHARED) / "mmdb" / "bad-data"
    if not SHARED or not folder.is_dir():
        return ["(AUDITOR_SHARED_DATA unset)"]
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                  and p.name != "README.md")


def test_the_bad_database_set_is_all_here(shared_data: Path) -> None:
    assert len(_bad_databases()) == 21


@pytest.mark.parametrize("name", _bad_databases())
def test_corrupt_database_is_one_line_naming_it(shared_data: Path, demo: Path, name: str,
                                                 tmp_path: Path) -> None:
    db = shared_data / "mmdb" / "bad-data" / name
    run = audit(demo, "--format", "json", "-o", tmp_path / "report.json", db=db)
    assert_one_error_line(run, db)
    assert not list(tmp_path.iterdir()), "a report was written for a database that failed"


# --- captures libpcap rejects at open ----------------------------------------------------------

# The auditor reads these although libpcap refuses them, because nothing in them is ambiguous:
# the packets that follow are exactly where the format says.
READ_ANYWAY = {
    "libpcap_pcapng-no-idb.pcapng": "a section with no interfaces and no packets: an empty capture",
    "libpcap_pcapng-idb-tsresol-bin-high.pcapng": "only timestamps suffer; a warning says so",
    "libpcap_pcapng-idb-tsresol-dec-high.pcapng": "only timestamps suffer; a warning says so",
    "libpcap_pcapng-idb-tsoffset-dup.pcapng": "the last if_tsoffset wins; counts are unaffected",
    "libpcap_pcapng-idb-endofopt-badlen.pcapng": "options after a bad end-of-options are ignored",
}


def _rejected_by_libpcap() -> list[str]:
    manifest = Path(SHARED) / "pcaps" / "corpus" / "MANIFEST.tsv"
    if not SHARED or not manifest.is_file():
        return ["(AUDITOR_SHARED_DATA unset)"]
    with manifest.open(newline="") as stream:
        rows = csv.DictReader(stream, delimiter="\t")
        return [row["file"] for row in rows
                if row["expected_reader_behaviour"].startswith("libpcap rejects")]


@pytest.mark.parametrize("name", _rejected_by_libpcap())
def test_capture_libpcap_rejects(shared_data: Path, city_db: Path, name: str,
                                 tmp_path: Path) -> None:
    capture = shared_data / "pcaps" / "corpus" / name
    run = audit(capture, "--format", "json", "-o", tmp_path / "report.json", db=city_db)
    if name in READ_ANYWAY:
        # Read; but a capture without an IP packet audits nothing, and nothing seen is no pass.
        (read,) = json.loads((tmp_path / "report.json").read_text())["captures"]
        assert run.status in ((0, 1) if read["ip_packets"] else (2,)), run.stderr_lines
        assert not any("Traceback" in line or "error" in line for line in run.stderr_lines)
        return
    assert_one_error_line(run, capture)
    # The report is still written: it says which capture could not be audited, and why.
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["verdict"] == "incomplete"
    assert len(document["errors"]) == 1


# --- big captures, signals and atomic reports --------------------------------------------------

_RECORD = struct.Struct("<IIII")
# Ethernet, IPv4 (IHL 5, 46 bytes), UDP 8 + 18 payload: a 60-byte frame.
_FRAME = struct.Struct(">6s6sHBBHHHBBH4s4sHHHH18x")
_SERVERS = (bytes([81, 2, 69, 142]), bytes([8, 8, 8, 8]), bytes([89, 160, 20, 112]),
            bytes([175, 16, 199, 1]))
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def write_udp_capture(path: Path, packets: int, flows: int) -> Path:
    """``packets`` Ethernet/IPv4/UDP records over ``flows`` distinct client address:port pairs
    (10.0.0.0/8, so the server side is always one of four public addresses on 443)."""
    size = _RECORD.size + _FRAME.size
    out = bytearray(len(_PCAP_HEADER) + packets * size)
    out[: len(_PCAP_HEADER)] = _PCAP_HEADER
    record, frame = _RECORD.pack_into, _FRAME.pack_into
    src_mac, dst_mac = b"\x00\x11\x22\x33\x44\x55", b"\x66\x77\x88\x99\xaa\xbb"
    pos = len(_PCAP_HEADER)
    for i in range(packets):
        f = i % flows
        client = (0x0A000000 + (f >> 4)).to_bytes(4, "big")
        record(out, pos, 1_700_000_000 + i // 1000, i % 1000, 60, 60)
        frame(out, pos + 16, dst_mac, src_mac, 0x0800, 0x45, 0, 46, 1, 0, 64, 17, 0, client,
              _SERVERS[f & 3], 40000 + (f & 15), 443, 26, 0)
        pos += size
    path.write_bytes(out)
    return path


@pytest.fixture(scope="session")
def big_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_udp_capture(tmp_path_factory.mktemp("big") / "big.pcap", 300_000, 1000)


def _start(args: list[str | Path], db: Path) -> subprocess.Popen[str]:
    """Start an audit and wait until it handles signals: it writes a line to the descriptor
    named by AUDITOR_READY_FD first thing, before its heavy imports."""
    command = [sys.executable, "-m", "auditor", *map(str, args), "--db", str(db), "--allow",
               "US", "--max-db-age", "1e9"]
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "AUDITOR_READY_FD": str(write_end)},
                            pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        assert ready.readline() == b"ready\n", "the audit never said it handles signals"
    return proc


def _family(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = [int(k) for k in children.read_text().split()]
    except OSError:  # already gone
        return [pid]
    return [pid, *(p for kid in kids for p in _family(kid))]


def _reading(proc: subprocess.Popen[str], capture: Path) -> bool:
    for pid in _family(proc.pid):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == str(capture) for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return True
    return False


def _wait_until_reading(proc: subprocess.Popen[str], capture: Path) -> None:
    deadline = time.monotonic() + 120
    while not _reading(proc, capture):
        assert proc.poll() is None, "the audit ended before reading the capture"
        assert time.monotonic() < deadline, "the audit never opened the capture"
        time.sleep(0.005)


@pytest.mark.parametrize(
    ("sig", "status", "words"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
@pytest.mark.parametrize(
    ("workers", "phase"), [("1", "start-up"), ("1", "reading"), ("2", "reading")]
)
def test_signal_leaves_no_report_and_no_temporary_file(
    big_capture: Path, city_db: Path, tmp_path: Path, *, sig: signal.Signals, status: int,
    words: str, workers: str, phase: str,
) -> None:
    """A signal while modules are still importing (start-up) or while captures are read: one
    line, 130 or 143, nothing written."""
    out = tmp_path / "out"
    out.mkdir()
    # Sixty passes over the big capture: far more reading than it takes to get the signal in.
    proc = _start([*[big_capture] * 60, "--workers", workers, "-f", "json", "-o",
                   out / "report.json"], city_db)
    if phase == "reading":
        _wait_until_reading(proc, big_capture)
    proc.send_signal(sig)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [f"audit: error: {words}; no report written"]
    assert list(out.iterdir()) == []


def test_signal_keeps_the_previous_report_whole(big_capture: Path, city_db: Path,
                                                tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text('{"previous": true}\n')
    proc = _start([*[big_capture] * 60, "--workers", "1", "-o", report], city_db)
    _wait_until_reading(proc, big_capture)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert report.read_text() == '{"previous": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_report_is_never_seen_half_written(big_capture: Path, city_db: Path,
                                           tmp_path: Path) -> None:
    """Watch the -o folder while the audit runs: the report appears whole or not at all."""
    report = tmp_path / "report.json"
    report.write_text('{"previous": true}\n')
    proc = _start([*[big_capture] * 3, "--workers", "1", "-o", report], city_db)
    seen = set()
    while proc.poll() is None:
        for entry in os.listdir(tmp_path):
            seen.add(entry)
        try:
            text = report.read_text()
        except FileNotFoundError:  # pragma: no cover - os.replace never leaves a gap
            pytest.fail("the report vanished while being replaced")
        json.loads(text)  # never partial JSON
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr  # the big capture's servers are outside the US
    document = json.loads(report.read_text())
    assert document["summary"]["packets"] == 3 * 300_000
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert all(name == "report.json" or name.startswith(".report.json.") for name in seen)


def test_report_into_a_missing_folder_is_one_line(demo: Path, city_db: Path,
                                                  tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "report.json"
    run = audit(demo, "-o", target, db=city_db)
    assert_one_error_line(run, target)


# --- resource bounds ---------------------------------------------------------------------------


def _gzip_stream(head: bytes, zeros: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    parts = [packer.compress(head)]
    block = bytes(MB)
    for _ in range(zeros // MB):
        parts.append(packer.compress(block))
    parts.append(packer.flush())
    return b"".join(parts)


def test_gzip_bomb_behind_a_huge_record_stops_at_the_record(
    city_db: Path, tmp_path: Path
) -> None:
    """1 GiB of zeros (1 MB gzipped) behind a record claiming 4 GB: reading stops, a warning."""
    head = _PCAP_HEADER + _RECORD.pack(1_700_000_000, 0, 0xFFFFFFF0, 0xFFFFFFF0)
    bomb = tmp_path / "bomb.pcap.gz"
    bomb.write_bytes(_gzip_stream(head, 1024 * MB))
    assert bomb.stat().st_size < 2 * MB
    run = audit(bomb, "-f", "json", db=city_db, timeout=120)
    text = "\n".join(run.stderr_lines)
    assert "Traceback" not in text
    assert run.status == 2, text  # the capture was not read whole: the audit is incomplete
    assert any("warning" in line and "4294967280" in line for line in run.stderr_lines), text
    assert run.peak_rss < RSS_LIMIT, f"peak RSS {run.peak_rss / MB:.0f} MB"


def test_gzip_bomb_of_empty_records_streams_in_bounded_memory(
    city_db: Path, tmp_path: Path
) -> None:
    """Zeros after a valid header are empty records: they are counted, never held in memory.

    32 MiB of zeros is two million 16-byte records, 32 KB compressed. (1 GiB takes minutes
    because every one of its 67 million records is counted; see the report of issue 5.)
    """
    bomb = tmp_path / "zeros.pcap.gz"
    bomb.write_bytes(_gzip_stream(_PCAP_HEADER, 32 * MB))
    run = audit(bomb, "-f", "json", db=city_db, timeout=120)
    text = "\n".join(run.stderr_lines)
    assert "Traceback" not in text
    assert run.status == 2, text  # read whole, but not one IP packet: nothing was audited
    assert "no IP packet in any capture" in text
    capture = json.loads(run.stdout)["captures"][0]
    assert capture["packets"] == 32 * MB // 16
    assert capture["skipped_packets"] == capture["packets"]
    assert run.peak_rss < RSS_LIMIT, f"peak RSS {run.peak_rss / MB:.0f} MB"


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_record_claiming_a_huge_length_is_a_warning(
    demo: Path, city_db: Path, tmp_path: Path, fmt: str
) -> None:
    """A good capture followed by one record (or block) claiming 4 GB: what came before counts."""
    source = demo.with_suffix(f".{fmt}")
    good = source.read_bytes()
    if fmt == "pcap":
        tail = _RECORD.pack(1_700_000_000, 0, 0xFFFFFFF0, 0xFFFFFFF0)
    else:
        tail = struct.pack("<II", 6, 0xFFFFFFF0) + bytes(64)
    capture = tmp_path / f"huge.{fmt}"
    capture.write_bytes(good + tail)
    whole = audit(source, "-f", "json", db=city_db)
    run = audit(capture, "-f", "json", db=city_db)
    text = "\n".join(run.stderr_lines)
    assert "Traceback" not in text
    assert run.status in (1, 2), text
    assert any(line.startswith("audit: warning: ") and str(capture) in line
               for line in run.stderr_lines), text
    # The evidence names the capture each round trip came from: the same one, by two names.
    ours = json.loads(run.stdout.replace(str(capture), str(source)))
    theirs = json.loads(whole.stdout)
    assert ours["captures"][0]["complete"] is False
    assert ours["captures"][0]["packets"] == theirs["captures"][0]["packets"]
    assert ours["endpoints"] == theirs["endpoints"]  # nothing found before the damage is lost
    assert run.peak_rss < RSS_LIMIT


def test_half_a_million_flows_complete_in_bounded_memory(
    city_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    capture = write_udp_capture(tmp_path_factory.mktemp("flows") / "flows.pcap", 500_000,
                                500_000)
    run = audit(capture, "-f", "json", "--workers", "1", db=city_db, timeout=300)
    text = "\n".join(run.stderr_lines)
    assert "Traceback" not in text
    assert run.status == 1, text
    document = json.loads(run.stdout)
    assert document["captures"][0]["flows"] == 500_000
    assert document["summary"]["endpoints"] == 4
    assert run.peak_rss < RSS_LIMIT, f"peak RSS {run.peak_rss / MB:.0f} MB"


@pytest.mark.parametrize("fmt", ["json", "csv", "text", "html", "sarif", "junit"])
def test_timestamp_beyond_any_date_is_not_an_internal_error(
    city_db: Path, tmp_path: Path, fmt: str
) -> None:
    """A pcapng with 1-second resolution and a 2^63-second timestamp: no such date exists."""
    import random

    from fuzz.capgen import pcapng, sample_packets

    capture = pcapng(sample_packets(random.Random(1), 3), tsresol=0)  # noqa: S311 - test data
    data = bytearray(capture.data)
    first_epb = capture.header_end
    data[first_epb + 12 : first_epb + 16] = b"\xff\xff\xff\xff"  # timestamp, high word
    path = tmp_path / "far-future.pcapng"
    path.write_bytes(bytes(data))
    run = audit(path, "-f", fmt, db=city_db)
    text = "\n".join(run.stderr_lines)
    assert "internal error" not in text
    assert "Traceback" not in text
    assert run.status in (0, 1), text
