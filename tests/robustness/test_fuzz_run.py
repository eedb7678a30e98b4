"""The long fuzz run (python -m fuzz.run), run briefly: it must find nothing in its CI budget."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz import run

ROOT = Path(__file__).resolve().parents[2]


def test_random_engine_finds_nothing_in_five_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run.main(["--seconds", "5", "--engine", "random", "--findings", str(tmp_path),
                       "--parallel-every", "40"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "0 finding(s)" in err
    assert not list(tmp_path.iterdir())
    runs = int(err.split("fuzz: ")[-1].split(" inputs")[0])
    assert runs > 100, err  # the run really ran, and not on one input


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_atheris_engine_finds_nothing_in_a_few_seconds(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fuzz.run", "--seconds", "3", "--engine", "atheris",
         "--seed", "1", "--findings", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done" in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_finding_is_saved_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's failure path works: a broken promise is saved and gives exit status 1."""
    from fuzz import oracle

    def broken(*_args: object, **_kwargs: object) -> None:
        raise oracle.FindingError("planted")

    monkeypatch.setattr(oracle, "check", broken)
    assert run.main(["--seconds", "0.3", "--engine", "random", "--findings", str(tmp_path)]) == 1
    saved = list(tmp_path.iterdir())
    assert saved
    monkeypatch.undo()
    assert run.replay([str(saved[0])]) == 0  # the real oracle: the planted finding was not real
