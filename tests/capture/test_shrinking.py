"""A capture cut short while it is being read (a capture point rotating its files with
copytruncate during a scheduled run): the read stops at the new end with a warning naming
the offset, and what was read is still reported; the process must never die of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "fixtures"

# Run apart: a reader that touched a page past the file's new end would be killed by SIGBUS,
# and would take the test runner with it.
READ_WHILE_TRUNCATED = """
import os, sys
from pytest import MonkeyPatch
from auditor.capture import read_capture

path = sys.argv[1]
cut = int(sys.argv[2])
cut_done = []

def progress(done: int, total: int) -> None:
    # A report of progress is the readiness signal: the second one comes once the reader is
    # past the file's header and reading records; the file shrinks under it now.
    cut_done.append(done)
    if len(cut_done) == 2:
        os.truncate(path, cut)

with MonkeyPatch.context() as mp:
    mp.setattr("auditor.capture.source.CHUNK", 4096)
    result = read_capture(path, progress=progress)
print(result.summary.complete, result.summary.packets, len(result.flows))
print("\\n".join(result.summary.warnings))
"""


def test_a_capture_truncated_mid_read_is_reported_up_to_its_new_end(tmp_path: Path) -> None:
    capture = tmp_path / "rotating.pcap"
    for name in ("demo-meeting.pcap", "demo-meeting.pcapng"):
        shutil.copyfile(DEMO / name, capture)
        done = subprocess.run(
            [sys.executable, "-c", READ_WHILE_TRUNCATED, str(capture), "20000"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (name, done.returncode, done.stderr[-2000:])
        complete, packets, flows = done.stdout.splitlines()[0].split()
        assert complete == "False", done.stdout
        assert int(packets) > 0, done.stdout  # what was read before the cut is reported
        assert int(flows) > 0, done.stdout
        assert "truncated" in done.stdout, done.stdout
        assert "offset" in done.stdout, done.stdout
