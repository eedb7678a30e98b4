"""What a run imports: only what its input and report format need (start-up is paid per run).

Checked in a fresh interpreter through sys.modules, never by timing: a JSON report of a pcap
does not load rich, the other report formats, the other inputs' readers, geoip2, tomllib or
a process pool; the runs that need them do load them (so the check can fail).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo-meeting.pcap"

# Runs `audit ARGV` in this process, then prints every module it loaded.
_PROBE = (
    "import sys\n"
    "from auditor.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "print(status, ' '.join(sorted(sys.modules)))\n"
)

NOT_FOR_A_JSON_RUN = (
    "rich",
    "geoip2",
    "tomllib",
    "concurrent.futures.process",
    "xml.etree.ElementTree",
    "auditor.report.table",
    "auditor.report.html",
    "auditor.report.sarif",
    "auditor.report.csv_format",
    "auditor.sources.zeek",
    "auditor.sources.webrtc",
    "auditor.sources.export",
)


def loaded_by(*argv: str) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
    )  # fmt: skip
    status, _, modules = done.stdout.strip().rpartition("\n")[2].partition(" ")
    assert status.isdigit(), done.stderr
    return int(status), set(modules.split())


def test_a_json_report_of_a_pcap_loads_only_what_it_needs() -> None:
    status, modules = loaded_by(str(DEMO), "--allow", "US,EU", "-f", "json", "-o", "/dev/null",
                                "-q", "--workers", "1")  # fmt: skip
    assert status == 1  # the demo's relay in China: the audit ran whole
    assert "auditor.report.json_format" in modules
    assert sorted(m for m in NOT_FOR_A_JSON_RUN if m in modules) == []


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["-f", "table", "-o", "/dev/null"], "rich"),
        (["-f", "sarif", "-o", "/dev/null"], "auditor.report.sarif"),
        (["-o", "/dev/null", "--workers", "2", str(DEMO)], "concurrent.futures.process"),
    ],
)
def test_runs_that_need_more_load_it(argv: list[str], needed: str) -> None:
    status, modules = loaded_by(str(DEMO), "--allow", "US,EU", "-q", *argv)
    assert status == 1
    assert needed in modules
