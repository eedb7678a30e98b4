"""`audit --cluster` against a real Dask cluster gives the local run's report and exit status."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import Environment, main
from auditor.cluster.identity import Fingerprint, fingerprint
from tests.cluster.daskcluster import Cluster, dask_cluster

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted(str(p) for p in (REPO / "fixtures").glob("demo-meeting.pcap*"))
ZEEK = sorted(str(p) for p in (REPO / "fixtures" / "zeek").iterdir() if p.is_dir())
POLICY = ("--allow", "US,EU", "--format", "json")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running


@pytest.fixture(scope="module")
def meetings() -> list[str]:
    import os

    shared = os.environ.get("AUDITOR_SHARED_DATA")
    if not shared:
        pytest.skip("AUDITOR_SHARED_DATA is not set")
    return sorted(str(p) for p in (Path(shared) / "pcaps" / "meetings").glob("*.pcap*"))


def audit(argv: Sequence[str], progress: bool = False) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(
        stdout=out, stderr=err, env={}, stdout_isatty=False, stderr_isatty=progress
    )
    status = main([*argv, *POLICY], environment)
    report = json.loads(out.getvalue()) if out.getvalue() else {}
    report.pop("generated_at", None)
    return status, report, err.getvalue()


@pytest.mark.parametrize("range_size", [None, "64K"], ids=["whole-files", "byte-ranges"])
def test_report_equals_the_local_run(
    cluster: Cluster, meetings: list[str], range_size: str | None
) -> None:
    captures = [*meetings, *FIXTURES, *ZEEK, f"{ZEEK[0]}/conn.log"]
    local = audit(captures)
    extra = ["--range-size", range_size] if range_size else []
    remote = audit([*captures, "--cluster", cluster.address, *extra])
    assert remote == local
    assert local[0] == 1  # the shared captures include Chinese servers (wechat)
    assert len(local[1]["captures"]) + len(local[1]["errors"]) == len(captures)
    assert local[1]["errors"] == [f"{ZEEK[1]}: a folder without a Zeek conn log (conn.log, "
                                  "conn.*.log.gz)"]  # fmt: skip


def test_progress_comes_from_each_range(cluster: Cluster, meetings: list[str]) -> None:
    seen: list[tuple[str, int, int]] = []

    def spy(path: str, done: int, total: int) -> None:
        seen.append((path, done, total))

    from auditor.cluster import ClusterOptions, read_on_cluster

    zoom = next(p for p in meetings if p.endswith("/zoom.pcap"))  # 409 kB: 7 ranges of 64 kB
    outcomes = read_on_cluster(ClusterOptions(cluster.address, 64 << 10), (zoom,), spy)
    size = Path(zoom).stat().st_size
    partial = sorted({done for _, done, _ in seen if 0 < done < size})
    assert len(partial) >= 5  # ranges finished one by one, not the file at once
    assert seen[0] == (zoom, 0, size)
    assert seen[-1] == (zoom, size, size)
    assert outcomes[0].error is None


def test_damaged_and_unreadable_captures_as_locally(
    cluster: Cluster, shared_data: Path, tmp_path: Path
) -> None:
    folder = shared_data / "pcaps" / "corpus"
    # libpcap's malformed savefiles, the pcapng variants, and what is big enough to split.
    with open(folder / "MANIFEST.tsv", encoding="utf-8") as manifest:
        rows = [line.split("\t") for line in manifest.read().splitlines()[1:]]
    odd = {name for name, repo, *_ in rows if repo.endswith(("/libpcap", "pcapng-test-generator"))}
    corpus = sorted(str(p) for p in folder.iterdir() if p.name in odd or p.stat().st_size > 8000)
    missing = str(tmp_path / "missing.pcap")
    captures = [*corpus, missing, *FIXTURES]
    local = audit(captures)
    remote = audit([*captures, "--cluster", cluster.address, "--range-size", "4K"])
    assert remote == local
    assert f"{missing}: cannot read: No such file or directory" in remote[1]["errors"]


def test_workers_seeing_other_bytes_make_the_capture_unreadable(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the client saw is the reference: a worker that sees anything else refuses, every
    retry fails, and the capture is reported, never left out."""

    def other_file(path: str) -> Fingerprint:
        seen = fingerprint(path)
        return Fingerprint(seen.size + 1, seen.head, seen.tail)

    monkeypatch.setattr("auditor.cluster.client.fingerprint", other_file)
    status, report, err = audit([FIXTURES[0], "--cluster", cluster.address])
    assert status == 2
    assert report["verdict"] == "incomplete"
    assert report["captures"] == []
    (error,) = report["errors"]
    assert error.startswith(f"{FIXTURES[0]}: could not be read on the cluster: a worker sees")
    assert "size" in error
    assert err.count("audit: error:") == 1


def test_a_violation_still_exits_1_beside_an_unreadable_capture(cluster: Cluster) -> None:
    status, report, _ = audit([*FIXTURES, "/nonexistent/x.pcap", "--cluster", cluster.address])
    assert status == 1
    assert report["complete"] is False
    assert report["errors"] == ["/nonexistent/x.pcap: cannot read: No such file or directory"]


def test_installed_command_exits_as_locally(cluster: Cluster) -> None:
    """Through a real subprocess of the installed `audit`, as the issue's "done" says."""
    local = subprocess.run(
        [sys.executable, "-m", "auditor", *FIXTURES, *POLICY], capture_output=True, check=False
    )
    remote = subprocess.run(
        [sys.executable, "-m", "auditor", *FIXTURES, *POLICY, "--cluster", cluster.address],
        capture_output=True,
        check=False,
    )
    assert remote.returncode == local.returncode == 1
    strip = _without_time
    assert strip(remote.stdout) == strip(local.stdout)


def _without_time(out: bytes) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(out)
    report.pop("generated_at")
    return report


def test_standard_input_is_refused(cluster: Cluster) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auditor", "-", *POLICY, "--cluster", cluster.address],
        input=Path(FIXTURES[0]).read_bytes(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 2
    assert b"not a file or folder" in result.stderr
    assert b"Traceback" not in result.stderr


def test_the_run_lands_in_the_history_as_a_local_run_does(cluster: Cluster, tmp_path: Path) -> None:
    history = str(tmp_path / "history.db")
    audit([*FIXTURES, "--history", history])
    audit([*FIXTURES, "--history", history, "--cluster", cluster.address])
    out = io.StringIO()
    environment = Environment(stdout=out, stderr=io.StringIO(), env={}, stdout_isatty=False,
                              stderr_isatty=False)  # fmt: skip
    assert main(["history", "--history", history, "--format", "json"], environment) == 0
    runs = json.loads(out.getvalue())["runs"]
    for run in runs:
        del run["id"], run["recorded_at"]
    local, remote = runs
    assert remote == local
    assert local["exit_status"] == 1
    assert [c["path"] for c in local["captures"]] == FIXTURES
