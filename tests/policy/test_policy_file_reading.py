"""Policy files are read under a 1 MiB cap, as UTF-8, to a bounded depth: anything else is one
line naming the file and exit 2, through the real command line (issue 8)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo-meeting.pcap"
BUNDLED = REPO / "auditor" / "data" / "auditor-country.mmdb"
MEMORY_LIMIT = 1024 * 1024 * 1024  # before the cap, /dev/zero grew without bound


def _bounded_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def audit_with_policy(policy: str | Path, **popen: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "auditor", str(DEMO), "--db", str(BUNDLED), "--max-db-age",
         "1e9", "-f", "json", "--policy", str(policy)],
        capture_output=True, text=True, timeout=120, check=False,
        preexec_fn=_bounded_memory, **popen,
    )


def assert_one_line_naming(done: subprocess.CompletedProcess[str], path: str | Path,
                           words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"audit: error: {path}: "), line
    assert words in line, line


def test_an_endless_policy_file_is_one_line() -> None:
    done = audit_with_policy("/dev/zero")
    assert_one_line_naming(done, "/dev/zero", "larger than 1048576 bytes")


def test_a_policy_file_over_the_cap_is_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "huge.toml"
    policy.write_text('allow = ["US", "EU"]\n' + "# padding\n" * 120_000)
    assert_one_line_naming(audit_with_policy(policy), policy, "larger than 1048576 bytes")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b'allow = ["US", "\xff"]\n', "not UTF-8 text at offset 16"),
        (b"allow = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"allow = " + b"{a = " * 5000 + b"1" + b"}" * 5000 + b"\n", "nested too deeply"),
    ],
    ids=["latin-1", "nested-arrays", "nested-tables"],
)
def test_a_malformed_policy_file_is_one_line_naming_it(tmp_path: Path, text: bytes,
                                                       words: str) -> None:
    policy = tmp_path / "bad.toml"
    policy.write_bytes(text)
    assert_one_line_naming(audit_with_policy(policy), policy, words)


def test_a_policy_from_a_process_substitution_still_works() -> None:
    """`--policy <(...)`: a pipe, read whole, with no size to stat."""
    read_end, write_end = os.pipe()
    os.write(write_end, b'allow = ["US", "EU"]\n')
    os.close(write_end)
    try:
        done = audit_with_policy(f"/dev/fd/{read_end}", pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert done.returncode == 1, done.stderr  # the demo's relay in China
    assert json.loads(done.stdout)["policy"]["allow"] == ["US", "EU"]
