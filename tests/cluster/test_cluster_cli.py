"""`--cluster` on the command line, without a cluster: nothing of Dask unless asked, and
one clear line for every way it cannot run."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.cli import Environment, main
from auditor.cluster import client as cluster_client
from auditor.cluster import parse_size

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "fixtures" / "demo-meeting.pcap")
IMPORTED = (
    "import sys; print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))"
)


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err, env={}, stdout_isatty=False,
                      stderr_isatty=False)  # fmt: skip
    return main([DEMO, "--allow", "US,EU", *argv], env), err.getvalue()


def test_a_local_run_imports_nothing_of_dask() -> None:
    run_it = f"from auditor.cli import main; main([{DEMO!r}, '--allow', 'US', '-f', 'json'])"
    assert python(f"{run_it}; {IMPORTED}").stdout.strip().splitlines()[-1] == "[]"
    # The check itself can fail: a cluster run does import it.
    imported = python(f"import auditor.cluster.client; {IMPORTED}").stdout
    assert imported == "['dask', 'distributed']\n"


def test_without_the_extra_the_error_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['distributed'] = None; from auditor.cli import main; "
        f"sys.exit(main([{DEMO!r}, '--allow', 'US', '--cluster', 'tcp://127.0.0.1:9']))"
    )
    result = python(code)
    assert result.returncode == 2
    assert result.stderr == (
        "audit: error: --cluster needs Dask distributed: pip install 'auditor[cluster]'\n"
    )


def test_an_unreachable_scheduler_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_client, "CONNECT_SECONDS", 1)
    status, err = run("--cluster", "tcp://127.0.0.1:9")  # discard port: nothing listens
    assert status == 2
    assert err.startswith("audit: error: tcp://127.0.0.1:9: cannot reach the Dask scheduler")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--range-size", "64K"], "--range-size applies to --cluster runs only"),
        (["--cluster", "tcp://127.0.0.1:9", "--workers", "2"], "--workers sets local processes"),
        (["--cluster", "tcp://127.0.0.1:9", "--range-size", "0"], "not a positive size: '0'"),
        (["--cluster", "tcp://127.0.0.1:9", "--range-size", "5X"], "not a positive size: '5X'"),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    status, err = run(*argv)
    assert status == 2
    assert message in err


@pytest.mark.parametrize(
    ("text", "size"), [("65536", 65536), ("64K", 65536), ("128m", 128 << 20), ("1GiB", 1 << 30)]
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size
