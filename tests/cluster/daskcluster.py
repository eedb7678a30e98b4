"""A real Dask distributed cluster on the loopback address, started as a user starts one:
`dask scheduler` and `dask worker` processes (no nanny: a killed worker stays dead)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Client

START_SECONDS = 120  # a loaded 2-core machine imports Dask slowly; this only bounds a failure


@dataclass
class Cluster:
    address: str
    client: Client  # the test's own, to look at and break the cluster
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by address

    def kill(self, address: str) -> int:
        """SIGKILL one worker process, as a machine dies; returns its exit status."""
        process = self.workers.pop(address)
        process.send_signal(signal.SIGKILL)
        return process.wait(timeout=START_SECONDS)


def _dask(*args: str, folder: Path, log: io.BufferedWriter) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2) -> Iterator[Cluster]:
    scheduler_file = folder / "scheduler.json"
    processes: list[subprocess.Popen[bytes]] = []
    with open(folder / "dask.log", "ab") as log:
        try:
            processes.append(
                _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                      "--scheduler-file", str(scheduler_file), folder=folder, log=log)
            )  # fmt: skip
            for _ in range(workers):
                processes.append(
                    _dask("worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                          "--nthreads", "1", "--no-nanny", "--no-dashboard",
                          "--local-directory", str(folder), folder=folder, log=log)
                )  # fmt: skip
            # Readiness, not sleeps: the client waits for the scheduler file and the scheduler
            # for the workers to register.
            client = Client(scheduler_file=str(scheduler_file), timeout=START_SECONDS,
                            set_as_default=False)  # fmt: skip
            try:
                client.wait_for_workers(workers, timeout=START_SECONDS)
                pids: dict[str, Any] = client.run(os.getpid)
                by_pid = {p.pid: p for p in processes}
                cluster = Cluster(client.scheduler_info()["address"], client)
                cluster.workers = {address: by_pid[pid] for address, pid in pids.items()}
                yield cluster
            finally:
                client.shutdown()  # the scheduler and its workers, cleanly, as a user would
        finally:
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a failed start: nothing to shut down
                    process.kill()
                    process.wait()
