"""Folders and glob patterns as inputs: a day's folder of captures audited in one command."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from auditor.cli import Environment, main
from auditor.cli.inputs import expand_inputs
from auditor.errors import UsageError

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture
def day(tmp_path: Path) -> Path:
    folder = tmp_path / "2026-11-30"
    folder.mkdir()
    shutil.copyfile(FIXTURES / "demo-meeting.pcap", folder / "b-standup.pcap")
    shutil.copyfile(FIXTURES / "demo-meeting.pcapng", folder / "a-review.pcapng")
    (folder / ".partial.pcap").write_bytes(b"")  # a capture still being written: hidden
    (folder / "sub").mkdir()
    return folder


def test_a_folder_is_its_files_sorted_and_a_pattern_is_expanded(day: Path) -> None:
    files = [str(day / "a-review.pcapng"), str(day / "b-standup.pcap")]
    assert expand_inputs([str(day)]) == files
    assert expand_inputs([str(day / "*.pcap*")]) == files
    assert expand_inputs([str(day / "a-*"), str(day / "a-*")]) == [files[0], files[0]]
    assert expand_inputs(["-"]) == ["-"]


@pytest.mark.parametrize("name", ["wikipedia", "webrtc-stun"])  # the second has no conn.log
def test_a_zeek_log_folder_stays_one_input(name: str) -> None:
    folder = str(FIXTURES / "zeek" / name)
    assert expand_inputs([folder]) == [folder]


def test_a_pattern_matching_nothing_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.pcap")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no file to audit"):
        expand_inputs([str(tmp_path / "empty")])


def test_a_folder_audited_in_one_command_gives_each_capture_its_verdict(day: Path) -> None:
    out = io.StringIO()
    env = Environment(stdout=out, stderr=io.StringIO(), env={}, stdout_isatty=False,
                      stderr_isatty=False)
    status = main([str(day), "--allow", "US,EU", "--format", "json", "--max-db-age", "1e9"], env)
    assert status == 1
    document = json.loads(out.getvalue())
    assert [(Path(c["path"]).name, c["verdict"]) for c in document["captures"]] == [
        ("a-review.pcapng", "fail"), ("b-standup.pcap", "fail")]
