"""Every format rendered from the same sample result, compared with its reviewed golden file."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditor.report import get_format
from auditor.report.interface import RenderOptions
from tests.report.factory import FIXED, PLAIN, batch_result, sample_result
from tests.report.golden import check_golden

CASES = [
    ("table", FIXED, "table.ansi"),
    ("table", PLAIN, "table.txt"),
    ("table", replace(PLAIN, width=100), "table-compact.txt"),
    ("table", replace(PLAIN, width=60), "table-list.txt"),
    ("text", FIXED, "text.txt"),
    ("json", FIXED, "report.json"),
    ("csv", FIXED, "report.csv"),
    ("junit", FIXED, "junit.xml"),
    ("sarif", FIXED, "report.sarif"),
    ("html", FIXED, "report.html"),
    ("markdown", FIXED, "report.md"),
]
BATCH = [
    ("table", PLAIN, "batch-table.txt"),
    ("text", FIXED, "batch-text.txt"),
    ("json", FIXED, "batch.json"),
    ("csv", FIXED, "batch.csv"),
    ("junit", FIXED, "batch-junit.xml"),
    ("sarif", FIXED, "batch.sarif"),
    ("html", FIXED, "batch.html"),
    ("markdown", FIXED, "batch.md"),
]


@pytest.mark.parametrize(("name", "options", "golden"), CASES, ids=[c[2] for c in CASES])
def test_golden(name: str, options: RenderOptions, golden: str) -> None:
    check_golden(golden, get_format(name, options).render(sample_result()))


@pytest.mark.parametrize(("name", "options", "golden"), BATCH, ids=[c[2] for c in BATCH])
def test_batch_golden(name: str, options: RenderOptions, golden: str) -> None:
    """Two captures: a section per capture with its own verdict, counts and frames."""
    check_golden(golden, get_format(name, options).render(batch_result()))
