"""Report (-o) and history files: what is replaced, what is written into, what is refused, and
how a history line is appended whole or not at all (issue 8)."""

from __future__ import annotations

import fcntl
import io
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.cli import Environment, main

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "demo-meeting.pcap"  # one relay in China: exit 1 under US,EU
BUNDLED = REPO / "auditor" / "data" / "auditor-country.mmdb"
POLICY = ("--allow", "US,EU", "--max-db-age", "1e9")


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """A capture and a database of this test's own: some tests try to write over them."""
    capture, database = tmp_path / "meeting.pcap", tmp_path / "country.mmdb"
    shutil.copyfile(DEMO, capture)
    shutil.copyfile(BUNDLED, database)
    return capture, database


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(stdout=out, stderr=err, env={}, stdout_isatty=False,
                              stderr_isatty=False)
    status = main([str(a) for a in argv], environment)
    return status, out.getvalue(), err.getvalue()


def audit(inputs: tuple[Path, Path], *extra: str | Path) -> tuple[int, str, str]:
    capture, database = inputs
    return run(capture, "--db", database, *POLICY, *extra)


def command(inputs: tuple[Path, Path], *extra: str | Path) -> list[str]:
    capture, database = inputs
    return [sys.executable, "-m", "auditor", str(capture), "--db", str(database), *POLICY,
            *map(str, extra)]


def history_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- -o onto regular files ---------------------------------------------------------------------


def test_report_through_a_symlink_replaces_its_target(inputs: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    status, _, err = audit(inputs, "-o", link)
    assert status == 1, err
    assert link.is_symlink()
    assert json.loads(target.read_text())["verdict"] == "fail"
    assert sorted(p.name for p in target.parent.iterdir()) == ["latest.json"]


def test_report_keeps_an_existing_files_mode(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("old\n")
    report.chmod(0o600)
    audit(inputs, "-o", report)
    assert json.loads(report.read_text())["verdict"] == "fail"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600


@pytest.mark.parametrize(("umask", "mode"), [(0o077, 0o600), (0o002, 0o664)])
def test_a_new_report_respects_the_umask(inputs: tuple[Path, Path], tmp_path: Path,
                                         umask: int, mode: int) -> None:
    report = tmp_path / "report.json"
    previous = os.umask(umask)
    try:
        audit(inputs, "-o", report)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(report.stat().st_mode) == mode


# --- -o onto devices and FIFOs -----------------------------------------------------------------


def test_report_into_a_fifo_keeps_the_fifo(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer need not wait
    try:
        status, _, err = audit(inputs, "-o", fifo, "-f", "json")
        received = os.read(reader, 1 << 20)
    except BlockingIOError:
        received = b""
    finally:
        os.close(reader)
    assert status == 1, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(received)["verdict"] == "fail"


def test_report_into_a_character_device_keeps_the_device(inputs: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    """Like -o /dev/null as root, on a null device made for the test (never the real one)."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    status, _, err = audit(inputs, "-o", null, "-f", "json")
    assert status == 1, err
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert null.read_bytes() == b""


def test_report_onto_a_link_to_standard_output_writes_into_the_pipe(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Like -o /dev/stdout, through a link of the test's own to /proc/self/fd/1."""
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")
    done = subprocess.run(command(inputs, "-o", stdout, "-f", "json"), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["verdict"] == "fail"
    assert stdout.is_symlink()


# --- -o refused --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["capture", "database", "policy file", "history file"])
def test_report_onto_an_input_is_refused_and_touches_nothing(
    inputs: tuple[Path, Path], tmp_path: Path, role: str
) -> None:
    capture, database = inputs
    policy, history = tmp_path / "policy.toml", tmp_path / "history.jsonl"
    policy.write_text('allow = ["US", "EU"]\n')
    history.write_text('{"schema": "auditor.history/1"}\n')
    victim = {"capture": capture, "database": database, "policy file": policy,
              "history file": history}[role]
    before = {p: p.read_bytes() for p in (capture, database, policy, history)}
    argv: list[str | Path] = [capture, "--db", database, "--max-db-age", "1e9", "--history",
                              history, "-o", victim]
    argv += ["--policy", policy] if role == "policy file" else ["--allow", "US,EU"]
    status, out, err = run(*argv)
    assert status == 2
    assert out == ""
    assert err.splitlines() == [
        f"audit: error: {victim}: is also the {role} of this run; refusing to write the report "
        "over it"
    ]
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in before)


def test_report_onto_a_symlink_to_the_capture_is_refused(inputs: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    capture, _ = inputs
    link = tmp_path / "report.json"
    link.symlink_to(capture)
    status, _, err = audit(inputs, "-o", link)
    assert status == 2
    assert "is also the capture" in err
    assert capture.read_bytes() == DEMO.read_bytes()


def test_history_onto_the_capture_is_refused(inputs: tuple[Path, Path]) -> None:
    capture, _ = inputs
    status, _, err = audit(inputs, "--history", capture)
    assert status == 2
    assert f"{capture}: is also the capture of this run" in err
    assert capture.read_bytes() == DEMO.read_bytes()


def test_report_onto_a_directory_is_refused(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    status, _, err = audit(inputs, "-o", folder)
    assert status == 2
    assert err.splitlines() == [f"audit: error: {folder}: is a directory; report needs a file "
                                "name"]
    assert list(folder.iterdir()) == []


# --- history appends ---------------------------------------------------------------------------


def test_a_torn_last_line_does_not_swallow_the_next(inputs: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text('{"schema": "auditor.history/1", "verdict": "pass"}\n{"schema": "aud')
    audit(inputs, "--history", history, "-o", tmp_path / "report.json")
    lines = history.read_text().splitlines()
    assert lines[:2] == ['{"schema": "auditor.history/1", "verdict": "pass"}', '{"schema": "aud']
    assert json.loads(lines[2])["verdict"] == "fail"
    assert len(lines) == 3


def test_a_failed_report_still_records_the_run_with_its_error(inputs: tuple[Path, Path],
                                                              tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    report = tmp_path / "missing" / "report.json"
    status, _, err = audit(inputs, "--history", history, "-o", report)
    assert status == 2
    assert err.splitlines() == [f"audit: error: {report}: cannot write report: No such file or "
                                "directory"]
    [line] = history_lines(history)
    assert (line["verdict"], line["exit_status"]) == ("fail", 2)
    assert line["attention"]  # the audit's findings are kept
    assert line["errors"] == [f"{report}: cannot write report: No such file or directory"]


def _limit_file_size(limit: int) -> None:
    # Ignored, SIGXFSZ turns a write past the limit into a short write, then EFBIG: a full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("chosen", ["sarif", "csv", "markdown", "text"])
def test_a_report_that_fails_part_way_leaves_the_earlier_file_whole(
    inputs: tuple[Path, Path], tmp_path: Path, chosen: str
) -> None:
    """Reports are written as they are made; a write that fails half-way (here: a full disk,
    as a file-size limit) must leave the earlier report at the path, and no temporary file."""
    report = tmp_path / f"report.{chosen}"
    report.write_text("the earlier report\n")
    before = sorted(tmp_path.iterdir())
    # Each of these reports of the demo is longer than this (markdown's 903 bytes the least):
    # the write fails part way.
    done = subprocess.run(command(inputs, "-f", chosen, "-o", report), text=True,
                          capture_output=True, timeout=120, check=False,
                          preexec_fn=lambda: _limit_file_size(600))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"audit: error: {report}: cannot write report: File "
                                        "too large"]
    assert report.read_text() == "the earlier report\n"
    assert sorted(tmp_path.iterdir()) == before


def test_a_history_append_that_fails_part_way_leaves_no_partial_line(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    history = tmp_path / "history.jsonl"
    # Longer than the report (which carries each endpoint's evidence), so the limit below
    # leaves room for the report but not for the history line.
    earlier = json.dumps({"schema": "auditor.history/1", "padding": "x" * 64000}) + "\n"
    history.write_text(earlier)
    report = tmp_path / "report.json"
    # Room for the report (a new, smaller file) but not for the whole history line.
    limit = len(earlier) + 40
    done = subprocess.run(command(inputs, "--history", history, "-o", report), text=True,
                          capture_output=True, timeout=120, check=False,
                          preexec_fn=lambda: _limit_file_size(limit))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"audit: error: {history}: cannot append history: File "
                                        "too large"]
    assert history.read_text() == earlier
    assert json.loads(report.read_text())["verdict"] == "fail"


def _blocked_lock_waiters(path: Path) -> int:
    inode = f":{path.stat().st_ino} "
    with open("/proc/locks", encoding="ascii") as locks:
        return sum(1 for line in locks if "->" in line and inode in line)


def test_one_history_writer_at_a_time(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    """Another writer holds the lock mid-line: the run waits for it, then appends its own."""
    history = tmp_path / "history.jsonl"
    history.write_text("")
    with history.open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        other.write('{"schema": "auditor.history/1", ')
        other.flush()
        proc = subprocess.Popen(command(inputs, "--history", history, "-o",
                                        tmp_path / "report.json"), stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while _blocked_lock_waiters(history) == 0:  # the run is waiting for the lock
            assert proc.poll() is None, "the run did not wait for the history lock"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        other.write('"verdict": "pass"}\n')
        other.flush()
        fcntl.flock(other, fcntl.LOCK_UN)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    lines = history_lines(history)
    assert [line["verdict"] for line in lines] == ["pass", "fail"]


# --- closed standard output --------------------------------------------------------------------


def _with_stdout_closed(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", 'exec "$0" "$@" >&-', *argv], capture_output=False,
                          stderr=subprocess.PIPE, text=True, timeout=120, check=False)


def test_closed_stdout_still_writes_the_report_file_and_history(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    report, history = tmp_path / "report.json", tmp_path / "history.jsonl"
    done = _with_stdout_closed(command(inputs, "-o", report, "--history", history))
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    assert json.loads(report.read_text())["verdict"] == "fail"
    assert [line["verdict"] for line in history_lines(history)] == ["fail"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_closed_stdout_without_a_report_file_is_one_line(inputs: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    done = _with_stdout_closed(command(inputs, "-f", "json", "--history", history))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "audit: error: standard output: cannot write report: closed by the caller"
    ]
    [line] = history_lines(history)
    assert (line["verdict"], line["exit_status"]) == ("fail", 2)
