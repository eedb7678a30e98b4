"""A worker killed in the middle of a run loses nothing: its tasks, and the range results it
held, are computed again on the worker left, and the report is the local run's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.audit import read_one
from auditor.cluster import ClusterOptions, read_on_cluster
from tests.cluster.daskcluster import Cluster, dask_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running


def test_a_killed_worker_loses_no_capture(cluster: Cluster, shared_data: Path) -> None:
    meetings = sorted(str(p) for p in (shared_data / "pcaps" / "meetings").glob("*.pcap*"))
    killed: list[int] = []

    def kill_the_busiest(_path: str, done: int, total: int) -> None:
        # At the first range done, kill the worker holding the most: finished ranges that a
        # merge still needs, or tasks under way.
        if killed or not 0 < done < total:
            return
        held = cluster.client.has_what()
        processing = cluster.client.processing()
        busiest = max(cluster.workers, key=lambda w: len(held[w]) + len(processing[w]))
        assert held[busiest] or processing[busiest]
        killed.append(cluster.kill(busiest))

    options = ClusterOptions(cluster.address, 16 << 10)  # many small ranges: killed mid-run
    outcomes = read_on_cluster(options, tuple(meetings), kill_the_busiest)
    assert killed == [-9]  # SIGKILL, during the run
    assert outcomes == [read_one(path) for path in meetings]
    assert len(cluster.client.scheduler_info()["workers"]) == 1
