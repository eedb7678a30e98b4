"""Shared test fixtures: where the third-party data lives, and whether tshark is here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


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
