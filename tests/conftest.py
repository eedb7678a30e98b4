"""Shared test fixtures: where the third-party data lives, and whether tshark is here."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """SIGINT handled, even in a run started with it ignored: its children inherit that.

    A shell without job control starts a background command (`pytest ... &` in a script) with
    SIGINT ignored, and the audit deliberately keeps an ignored signal ignored (nohup,
    background jobs); the tests that interrupt an audit would then see it shrug SIGINT off.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, as .ci/run exports it; tests needing it skip only when it is unset."""
    value = os.environ.get("AUDITOR_SHARED_DATA")
    if not value:
        pytest.skip("AUDITOR_SHARED_DATA is not set")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"AUDITOR_SHARED_DATA={value} is not a directory")
    return path


@pytest.fixture(scope="session")
def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (.ci/run installs it)")
    return path
