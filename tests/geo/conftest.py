"""Fixtures for the geo tests: MaxMind's test databases and small crafted ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

MakeDb = Callable[..., str]


def write_mmdb(
    path: Path,
    database_type: str,
    records: Mapping[str, Any],
    ip_version: int = 6,
    build_epoch: int | None = None,
) -> str:
    """Write ``records`` (network -> record) as an mmdb file and return its path."""
    writer = MMDBWriter(
        ip_version=ip_version,
        database_type=database_type,
        languages=["en"],
        description={"en": f"crafted {database_type} test database"},
        ipv4_compatible=ip_version == 6,
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    if build_epoch is None:
        writer.to_db_file(str(path))
    else:
        # mmdb-writer stamps int(time.time()) as the build epoch.
        with mock.patch("mmdb_writer.time.time", return_value=build_epoch):
            writer.to_db_file(str(path))
    return str(path)


@pytest.fixture
def make_db(tmp_path: Path) -> MakeDb:
    counter = iter(range(1_000_000))
    folder = tmp_path / "crafted"  # apart from the test's own files in tmp_path
    folder.mkdir()

    def make(database_type: str, records: Mapping[str, Any], **kwargs: Any) -> str:
        path = folder / f"crafted-{next(counter)}.mmdb"
        return write_mmdb(path, database_type, records, **kwargs)

    return make


@pytest.fixture(scope="session")
def test_data(shared_data: Path) -> Path:
    return shared_data / "mmdb" / "test-data"


@pytest.fixture(scope="session")
def bad_data(shared_data: Path) -> Path:
    return shared_data / "mmdb" / "bad-data"
