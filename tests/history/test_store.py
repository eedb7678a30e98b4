"""The store itself: what a run records, schema and migrations, several writers, a crash."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text

from auditor.cli import Environment, main
from auditor.history import schema
from auditor.history.record import run_record
from auditor.history.store import HistoryStore, open_store
from auditor.history.target import HistoryKind, parse_target
from tests.history.conftest import CN, SE, US, write_country_db, write_meeting
from tests.history.runs import record_runs, tiny_result

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(stdout=out, stderr=err, env={}, stdout_isatty=False,
                              stderr_isatty=False)
    return main(argv, environment), out.getvalue(), err.getvalue()


def opened(history: str) -> HistoryStore:
    return open_store(parse_target(history), create=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seen_in(connection: Connection) -> list[tuple[str, str]]:
    """(finding's address, capture path) for every link of a finding to a capture."""
    return [(str(ip), str(path)) for ip, path in connection.execute(
        select(schema.findings.c.ip, schema.run_captures.c.path)
        .join(schema.finding_captures,
              schema.finding_captures.c.finding_id == schema.findings.c.id)
        .join(schema.run_captures,
              schema.run_captures.c.id == schema.finding_captures.c.capture_id)
    )]  # fmt: skip


def test_a_run_records_policy_databases_captures_and_every_finding(
    tmp_path: Path, history: str
) -> None:
    monday = write_meeting(tmp_path / "monday.pcap", [US, SE])
    tuesday = write_meeting(tmp_path / "tuesday.pcap", [CN, SE])
    db = write_country_db(tmp_path / "country.mmdb", {"216.160.83.0/24": "US",
                                                      "89.160.20.0/24": "SE",
                                                      "175.16.199.0/24": "CN"})
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('allow = ["US", "EU"]\n')
    status, _, err = run([str(monday), str(tuesday), "--db", str(db), "--policy",
                          str(policy_file), "--history", history, "-q", "-o",
                          str(tmp_path / "r.json")])
    assert status == 1, err
    with opened(history) as store, store.transaction() as connection:
        (stored,) = connection.execute(select(schema.runs)).mappings().all()
        databases = connection.execute(select(schema.run_databases)).mappings().all()
        captures = {row["path"]: row for row in
                    connection.execute(select(schema.run_captures)).mappings()}
        findings = {row["ip"]: row for row in
                    connection.execute(select(schema.findings)).mappings()}
        seen_in = _seen_in(connection)
    assert (stored["verdict"], stored["exit_status"], stored["violations"]) == ("fail", 1, 1)
    assert stored["policy_text"] == policy_file.read_text()
    assert stored["policy_sha256"] == sha256(policy_file)
    assert stored["policy"]["allow"] == ["US", "EU"]
    assert stored["tool_version"]
    assert [(d["database_type"], d["sha256"]) for d in databases] == [
        ("GeoLite2-Country", sha256(db))
    ]
    assert databases[0]["build_epoch"] > 0
    assert {path: (row["size"], row["sha256"], row["verdict"])
            for path, row in captures.items()} == {
        str(monday): (monday.stat().st_size, sha256(monday), "pass"),
        str(tuesday): (tuesday.stat().st_size, sha256(tuesday), "fail"),
    }
    relay = findings[CN.ip]
    assert (relay["verdict"], relay["country"]) == ("violation", "CN")
    assert "outside the allowed" in relay["reason"]
    assert relay["hostnames"] == [CN.name]
    assert findings[SE.ip]["platform"] == "Zoom"
    assert sorted(p for ip, p in seen_in if ip == CN.ip) == [str(tuesday)]
    assert sorted(p for ip, p in seen_in if ip == SE.ip) == [str(monday), str(tuesday)]


def test_a_run_that_failed_is_recorded_with_its_error(tmp_path: Path, history: str) -> None:
    monday = write_meeting(tmp_path / "monday.pcap", [US])
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    status, _, _ = run([str(monday), "--db", str(broken), "--allow", "US", "--history",
                        history])
    assert status == 2
    with opened(history) as store, store.transaction() as connection:
        (stored,) = connection.execute(select(schema.runs)).mappings().all()
        (recorded,) = connection.execute(select(schema.run_captures)).mappings().all()
    assert (stored["verdict"], stored["exit_status"]) == ("error", 2)
    assert str(broken) in stored["errors"][0]
    assert (recorded["path"], recorded["verdict"], recorded["sha256"]) == (
        str(monday), "error", sha256(monday)
    )


def test_the_migrations_make_exactly_the_tables_the_code_uses(history: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with open_store(parse_target(history), create=True) as store, \
            store.transaction() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), schema.metadata)
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert differences == []
    assert version == schema.SCHEMA_REVISION


def test_a_history_from_a_newer_auditor_is_refused(tmp_path: Path, history: str) -> None:
    with open_store(parse_target(history), create=True) as store, \
            store.transaction() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    monday = write_meeting(tmp_path / "monday.pcap", [US])
    db = write_country_db(tmp_path / "c.mmdb", {"216.160.83.0/24": "US"})
    status, _, err = run([str(monday), "--db", str(db), "--allow", "US", "--history", history])
    assert status == 2
    assert "newer auditor (schema 9999" in err
    assert "Traceback" not in err


def test_a_json_lines_file_is_not_taken_for_a_database(tmp_path: Path) -> None:
    old = tmp_path / "history.log"
    old.write_text('{"schema": "auditor.history/1"}\n')
    status, _, err = run(["history", "--history", str(old)])
    assert status == 2
    assert err.count("\n") == 1
    assert f"{old}: not a SQLite history" in err
    assert old.read_text() == '{"schema": "auditor.history/1"}\n'


def test_reading_a_missing_history_does_not_make_one(tmp_path: Path) -> None:
    missing = tmp_path / "auditor.db"
    status, _, err = run(["history", "--history", str(missing)])
    assert status == 2
    assert "no history here yet" in err
    assert not missing.exists()


@pytest.mark.parametrize(
    ("value", "kind"),
    [("auditor.db", HistoryKind.SQLITE), ("runs.JSONL", HistoryKind.JSON_LINES),
     ("sqlite:///tmp/a.db", HistoryKind.SQLITE), ("postgres://u:pw@h/db", HistoryKind.POSTGRESQL)],
)
def test_history_targets(value: str, kind: HistoryKind) -> None:
    target = parse_target(value)
    assert target.kind is kind
    assert "pw" not in target.label


def test_an_unknown_url_is_a_usage_error() -> None:
    status, _, err = run(["diff", "--history", "mysql://u:secret@h/db"])
    assert status == 2
    assert "secret" not in err
    assert "postgresql://" in err


def test_an_unreachable_postgresql_is_one_line_without_the_password(tmp_path: Path) -> None:
    status, _, err = run(["history", "--history",
                          f"postgresql://auditor:hunter2@/x?host={tmp_path}&connect_timeout=2"])
    assert status == 2
    assert err.count("\n") == 1
    assert "hunter2" not in err
    assert "postgresql://auditor:***@" in err


def test_several_runs_at_once_all_land_whole(history: str) -> None:
    writers, runs_each = 4, 5
    context = multiprocessing.get_context("fork")  # no re-import: the writers start at once
    barrier = context.Barrier(writers)
    processes = [context.Process(target=record_runs, args=(history, runs_each, barrier))
                 for _ in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
    assert [p.exitcode for p in processes] == [0] * writers
    with opened(history) as store, store.transaction() as connection:
        runs = connection.execute(select(func.count()).select_from(schema.runs)).scalar()
        per_run = connection.execute(
            select(schema.findings.c.run_id, func.count())
            .group_by(schema.findings.c.run_id)
        ).all()
        links = connection.execute(
            select(func.count()).select_from(schema.finding_captures)
        ).scalar()
    assert runs == writers * runs_each
    assert sorted(count for _, count in per_run) == [2] * runs
    assert links == 2 * runs


_HOLD_A_RUN_OPEN = """
import sys
from auditor.history.record import run_record
from auditor.history.store import _insert_run, open_store
from auditor.history.target import parse_target
from tests.history.runs import tiny_result

with open_store(parse_target(sys.argv[1]), create=True) as store:
    with store.engine.begin() as connection:
        _insert_run(connection, run_record(tiny_result(), requested=(), policy_file=None))
        print("inside", flush=True)
        sys.stdin.read()  # until killed, or until told to commit by closing stdin
"""


def _hold_a_run_open(history: str) -> subprocess.Popen[str]:
    writer = subprocess.Popen([sys.executable, "-c", _HOLD_A_RUN_OPEN, history], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline() == "inside\n"  # the run is half written, uncommitted
    return writer


def test_a_crash_mid_run_leaves_the_history_whole(history: str) -> None:
    with open_store(parse_target(history), create=True) as store:
        store.record(run_record(tiny_result(), requested=(), policy_file=None))
    writer = _hold_a_run_open(history)
    try:
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=60)
    with opened(history) as store:
        with store.transaction() as connection:
            runs = connection.execute(select(func.count()).select_from(schema.runs)).scalar()
            orphans = connection.execute(
                select(func.count()).select_from(schema.findings)
                .where(schema.findings.c.run_id.not_in(select(schema.runs.c.id)))
            ).scalar()
            if connection.dialect.name == "sqlite":
                assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert (runs, orphans) == (1, 0)
        store.record(run_record(tiny_result(), requested=(), policy_file=None))


def test_reading_the_history_does_not_wait_for_a_run_being_written(history: str) -> None:
    import json

    with open_store(parse_target(history), create=True) as store:
        store.record(run_record(tiny_result(), requested=(), policy_file=None))
    writer = _hold_a_run_open(history)
    try:
        status, out, err = run(["history", "--history", history, "--format", "json"])
        assert status == 0, err
        assert len(json.loads(out)["runs"]) == 1  # the committed run, not the one in flight
    finally:
        assert writer.stdin is not None
        writer.stdin.close()  # now the writer commits
        assert writer.wait(timeout=60) == 0
    status, out, _ = run(["history", "--history", history, "--format", "json"])
    assert len(json.loads(out)["runs"]) == 2


def test_a_bad_history_fails_before_the_audit_reads_anything(tmp_path: Path) -> None:
    not_a_db = tmp_path / "history.db"
    not_a_db.write_text("hello\n")
    status, out, err = run([str(tmp_path / "no-such.pcap"), "--allow", "US", "--history",
                            str(not_a_db), "-f", "json"])
    assert status == 2
    assert out == ""  # no report: the run stopped before reading the (missing) capture
    assert err == f"audit: error: {not_a_db}: not a SQLite history (a JSON-lines history must " \
        "end in .jsonl)\n"


def test_an_audit_without_a_database_history_never_imports_sqlalchemy(tmp_path: Path) -> None:
    monday = write_meeting(tmp_path / "monday.pcap", [US])
    db = write_country_db(tmp_path / "c.mmdb", {"216.160.83.0/24": "US"})
    program = (
        "import sys\nfrom auditor.cli import main\n"
        f"main([{str(monday)!r}, '--db', {str(db)!r}, '--allow', 'US', '-q', '-o', "
        f"{str(tmp_path / 'r.json')!r}, '--history', {str(tmp_path / 'h.jsonl')!r}])\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True,
                          text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "h.jsonl").read_text().count("\n") == 1




def test_a_report_that_could_not_be_written_is_recorded_as_exit_2(
    tmp_path: Path, history: str
) -> None:
    monday = write_meeting(tmp_path / "monday.pcap", [US])
    db = write_country_db(tmp_path / "c.mmdb", {"216.160.83.0/24": "US"})
    missing = tmp_path / "no-such-folder" / "r.json"
    status, _, _ = run([str(monday), "--db", str(db), "--allow", "US", "-o", str(missing),
                        "--history", history])
    assert status == 2
    with opened(history) as store, store.reading() as connection:
        (stored,) = connection.execute(select(schema.runs)).mappings().all()
    assert (stored["verdict"], stored["exit_status"]) == ("pass", 2)
    assert stored["errors"][0].startswith(f"{missing}: cannot write report")


def test_findings_are_written_in_batches_in_their_order(
    tmp_path: Path, history: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More findings than a batch: every one recorded once, in order, with its captures and
    the run's counts (a million findings are written a batch at a time, not built at once)."""
    from dataclasses import replace

    from auditor.history import store as store_module
    from auditor.model import Location
    from tests.report.factory import capture, endpoint, finding, policy

    monkeypatch.setattr(store_module, "_FINDING_BATCH", 3)
    pol = policy()
    codes = ["US", "CN", "SE", "CN", "US", "GB", "DE"]  # CN and GB: outside US,EU
    findings = tuple(
        finding(endpoint(f"198.51.100.{i}", captures=("a.pcap", "b.pcap")[: 1 + i % 2]),
                Location(f"198.51.100.{i}", country=code), pol)
        for i, code in enumerate(codes)
    )  # fmt: skip
    result = replace(tiny_result(), findings=findings, captures=(capture("a.pcap"),
                                                                 capture("b.pcap")))
    with open_store(parse_target(history), create=True) as store:
        store.record(run_record(result, requested=(), policy_file=None))
    with opened(history) as store, store.transaction() as connection:
        (stored,) = connection.execute(select(schema.runs)).mappings().all()
        rows = connection.execute(
            select(schema.findings.c.ip, schema.findings.c.country)
            .order_by(schema.findings.c.id)
        ).all()
        links = _seen_in(connection)
    assert [tuple(row) for row in rows] == [(f"198.51.100.{i}", c) for i, c in enumerate(codes)]
    assert sorted(links) == sorted(
        (f.endpoint.ip, path) for f in findings for path in f.endpoint.captures
    )
    assert (stored["endpoints"], stored["violations"], stored["unknown"]) == (7, 3, 0)
