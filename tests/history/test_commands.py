"""audit history, audit diff and the monthly summary, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import Environment, main
from auditor.history.queries import StoredFinding
from auditor.history.record import run_record
from auditor.history.render import history_text
from auditor.history.store import open_store
from auditor.history.target import parse_target
from tests.history.conftest import CN, SE, US, write_country_db, write_meeting
from tests.history.runs import tiny_result


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(stdout=out, stderr=err, env={}, stdout_isatty=False,
                              stderr_isatty=False)
    return main(argv, environment), out.getvalue(), err.getvalue()


def run_json(argv: list[str]) -> Any:
    status, out, err = run([*argv, "--format", "json"])
    assert status == 0, err
    return json.loads(out)


@dataclass(frozen=True)
class ThreeRuns:
    history: str
    monday: Path
    tuesday: Path


@pytest.fixture
def three_runs(tmp_path: Path, history: str) -> ThreeRuns:
    """Run 1: database v1, policy US+EU. Run 2: database v2 moves SE's relay to CN. Run 3:
    the policy now allows CN too."""
    monday = write_meeting(tmp_path / "monday.pcap", [US, SE])
    tuesday = write_meeting(tmp_path / "tuesday.pcap", [CN])
    places = {"216.160.83.0/24": "US", "89.160.20.0/24": "SE", "175.16.199.0/24": "CN"}
    v1 = write_country_db(tmp_path / "v1.mmdb", places)
    v2 = write_country_db(tmp_path / "v2.mmdb", {**places, "89.160.20.0/24": "CN"})
    policy = tmp_path / "policy.toml"
    for db, allow in ((v1, '["US", "EU"]'), (v2, '["US", "EU"]'), (v2, '["US", "EU", "CN"]')):
        policy.write_text(f"allow = {allow}\n")
        status, _, err = run([str(monday), str(tuesday), "--db", str(db), "--policy",
                              str(policy), "--history", history, "-q", "-o",
                              str(tmp_path / "r.json")])
        assert status in (0, 1), err
    return ThreeRuns(history, monday, tuesday)


def test_history_lists_runs_and_the_violations_in_which_capture(three_runs: ThreeRuns) -> None:
    found = run_json(["history", "--history", three_runs.history])
    assert [(r["id"], r["verdict"]) for r in found["runs"]] == [
        (1, "fail"), (2, "fail"), (3, "pass")
    ]
    assert [[c["verdict"] for c in r["captures"]] for r in found["runs"]] == [
        ["pass", "fail"], ["fail", "fail"], ["pass", "pass"]
    ]
    assert [(f["run"], f["ip"], f["country"], f["captures"]) for f in found["findings"]] == [
        (1, CN.ip, "CN", [str(three_runs.tuesday)]),
        (2, CN.ip, "CN", [str(three_runs.tuesday)]),
        (2, SE.ip, "CN", [str(three_runs.monday)]),
    ]


def test_history_filters(three_runs: ThreeRuns) -> None:
    base = ["history", "--history", three_runs.history]
    by_capture = run_json([*base, "--capture", "monday.pcap"])
    assert {(f["run"], f["ip"]) for f in by_capture["findings"]} == {(2, SE.ip)}
    assert len(by_capture["runs"]) == 3
    assert run_json([*base, "--capture", "*/nothing-*.pcap"])["runs"] == []
    by_platform = run_json([*base, "--platform", "zoom"])
    assert {f["ip"] for f in by_platform["findings"]} == {SE.ip}
    allowed_us = run_json([*base, "--country", "us", "--verdict", "allowed"])
    assert {(f["ip"], f["verdict"]) for f in allowed_us["findings"]} == {(US.ip, "allowed")}
    assert run_json([*base, "--until", "2000-01-01"])["runs"] == []
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(run_json([*base, "--since", today, "--until", today])["runs"]) == 3


def test_diff_shows_a_database_update_as_the_cause(three_runs: ThreeRuns) -> None:
    diff = run_json(["diff", "1", "2", "--history", three_runs.history])
    assert diff["policy_changed"] is False
    (change,) = diff["database_changes"]
    assert change["type"] == "GeoLite2-Country"
    assert change["before"]["sha256"] != change["after"]["sha256"]
    assert [(v["ip"], v["cause"]) for v in diff["new_violations"]] == [(SE.ip, "database")]
    assert [(c["ip"], c["before"]["country"], c["after"]["country"]) for c in diff["changed"]] \
        == [(SE.ip, "SE", "CN")]
    assert diff["new_endpoints"] == diff["resolved_endpoints"] == []


def test_diff_defaults_to_the_last_two_runs_and_names_a_policy_change(
    three_runs: ThreeRuns,
) -> None:
    diff = run_json(["diff", "--history", three_runs.history])
    assert (diff["before"]["id"], diff["after"]["id"]) == (2, 3)
    assert diff["policy_changed"] is True
    assert diff["database_changes"] == []
    assert sorted((v["ip"], v["cause"]) for v in diff["resolved_violations"]) == sorted(
        [(CN.ip, "policy"), (SE.ip, "policy")]
    )
    status, text, _ = run(["diff", "--history", three_runs.history])
    assert status == 0
    assert "policy: sha256" in text
    assert re.search(rf"{re.escape(SE.ip)}\s+violation CN\s+allowed CN\s+policy", text)


def test_monthly_summary_for_a_ticket(three_runs: ThreeRuns) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    status, text, err = run(["history", "--history", three_runs.history, "--summary", month,
                             "--format", "markdown"])
    assert status == 0, err
    assert text.startswith(f"# Audit summary {month}\n")
    assert "- Runs: 3 \\(" not in text  # parentheses are not Markdown: left as they are
    assert "- Runs: 3 (2 fail, 1 pass)" in text
    assert "## Captures with violations (3)" in text
    assert "## Endpoints in violation (2)" in text
    assert text.count("| GeoLite2-Country |") == 2  # the two builds, each with its SHA-256
    assert "## Policies used" in text
    summary = run_json(["history", "--history", three_runs.history, "--summary", month])
    assert summary["violations_by_country"] == {"CN": 2}
    assert [(v["run"], Path(v["path"]).name) for v in summary["violating_captures"]] == [
        (1, "tuesday.pcap"), (2, "monday.pcap"), (2, "tuesday.pcap")
    ]


def test_a_summary_keeps_to_its_month(tmp_path: Path) -> None:
    history = str(tmp_path / "auditor.db")
    with open_store(parse_target(history), create=True) as store:
        for moment in (datetime(2026, 10, 31, 23, 59, tzinfo=UTC),
                       datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
                       datetime(2026, 11, 30, 23, 59, tzinfo=UTC),
                       datetime(2026, 12, 1, 0, 0, tzinfo=UTC)):
            store.record(run_record(tiny_result(), requested=(), policy_file=None, now=moment))
    summary = run_json(["history", "--history", history, "--summary", "2026-11"])
    assert summary["runs"] == 2
    status, _, err = run(["history", "--history", history, "--summary", "2026-13"])
    assert (status, err.count("\n")) == (2, 1)


def test_diff_needs_two_runs_and_known_numbers(tmp_path: Path) -> None:
    history = str(tmp_path / "auditor.db")
    with open_store(parse_target(history), create=True) as store:
        store.record(run_record(tiny_result(), requested=(), policy_file=None))
    status, _, err = run(["diff", "--history", history])
    assert status == 2
    assert "needs two runs" in err
    status, _, err = run(["diff", "1", "7", "--history", history])
    assert status == 2
    assert "no run 7" in err


def test_history_without_a_store_named_is_a_usage_error() -> None:
    status, _, err = run(["history"])
    assert status == 2
    assert "AUDITOR_HISTORY" in err


def test_a_hostile_name_cannot_break_a_markdown_table() -> None:
    hostile = "evil.example|](javascript:x)\\x1b[31m"
    finding = StoredFinding(
        run_id=1, recorded_at=datetime(2026, 11, 2, tzinfo=UTC), ip="175.16.199.7",
        verdict="violation", reason="CN is outside", country="CN", registered_country="CN",
        asn=None, org=None, platform=hostile, hostnames=(hostile,), ports=("443/tcp",),
        packets=1, bytes=1, captures=("/captures/a|b.pcap",),
    )
    text = history_text([], [finding], markdown=True)
    row = next(line for line in text.splitlines() if "175.16.199.7" in line)
    unescaped_pipes = len(re.findall(r"(?<!\\)\|", row))
    header = next(line for line in text.splitlines() if line.startswith("| run"))
    assert unescaped_pipes == header.count("|")
    assert "](" not in row.replace("\\]", "")


def test_diff_skips_a_failed_run_and_takes_one_run_against_its_predecessor(
    three_runs: ThreeRuns, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    status, _, _ = run([str(three_runs.monday), "--db", str(broken), "--allow", "US",
                        "--history", three_runs.history])
    assert status == 2
    listed = run_json(["history", "--history", three_runs.history])
    assert [r["verdict"] for r in listed["runs"]] == ["fail", "fail", "pass", "error"]
    latest = run_json(["diff", "--history", three_runs.history])
    assert (latest["before"]["id"], latest["after"]["id"]) == (2, 3)
    single = run_json(["diff", "2", "--history", three_runs.history])
    assert (single["before"]["id"], single["after"]["id"]) == (1, 2)


def test_one_run_whole_as_evidence(three_runs: ThreeRuns) -> None:
    import hashlib

    shown = run_json(["history", "--history", three_runs.history, "--run", "3"])
    assert shown["run"]["policy_text"] == 'allow = ["US", "EU", "CN"]\n'
    assert {(f["ip"], f["verdict"]) for f in shown["findings"]} >= {
        (US.ip, "allowed"), (SE.ip, "allowed"), (CN.ip, "allowed")
    }
    status, text, _ = run(["history", "--history", three_runs.history, "--run", "3",
                           "--format", "markdown"])
    assert status == 0
    assert hashlib.sha256(three_runs.monday.read_bytes()).hexdigest() in text
    assert '~~~~\nallow = ["US", "EU", "CN"]\n~~~~' in text
    status, _, err = run(["history", "--history", three_runs.history, "--run", "9"])
    assert (status, "no run 9" in err) == (2, True)
