"""Staleness said once: one line per run naming every stale database, once on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from auditor.cli import Environment, main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo-meeting.pcap"
DATA = REPO / "auditor" / "data"


def run(*argv: str, tty: bool) -> str:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, env={"NO_COLOR": "1"}, stdout_isatty=tty,
                      stderr_isatty=tty)
    main([str(DEMO), "--allow", "US,EU", "--db", str(DATA / "auditor-country.mmdb"),
          "--db", str(DATA / "auditor-asn.mmdb"), "--max-db-age", "1", *argv], env)
    return out.getvalue() + err.getvalue()


def test_a_terminal_shows_the_stale_data_once_naming_both_databases() -> None:
    screen = run(tty=True)
    assert screen.count("stale geolocation data") == 1
    assert "auditor-country.mmdb, auditor-asn.mmdb" in " ".join(screen.split())


def test_a_report_into_a_pipe_still_warns_once_on_stderr() -> None:
    # The JSON report carries the warning for machines; stderr says it once for a person.
    piped = run("--format", "json", tty=False)
    assert piped.count("stale geolocation data") == 2  # the JSON's warnings, and stderr
