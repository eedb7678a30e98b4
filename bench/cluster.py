"""Benchmark: `audit` on one machine, locally and on a 2-worker Dask cluster; per-task overhead.

    python bench/cluster.py [--packets 1000000] [--runs 3]

Starts a LocalCluster of 2 worker processes (1 thread each) on 127.0.0.1 and times, as
subprocesses of the installed `audit` (process start and Dask import included):
the 1M-packet meeting pcap locally (--workers 1 and 2) and on the cluster with several range
sizes, then the 21 shared meeting captures (many small files) both ways. In process, it
fits the cluster read's time against its number of tasks (per-task cost), times no-op Dask
tasks (the scheduler's round trip alone) and sizes a range's result as it crosses the network.
Needs `pip install -e '.[cluster]'`; the shared captures need AUDITOR_SHARED_DATA.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from distributed import Client, LocalCluster  # noqa: E402

from auditor.cluster import ClusterOptions, read_on_cluster  # noqa: E402
from auditor.cluster import ranges as cluster_ranges  # noqa: E402
from bench.run import audit_command, ensure_captures, time_tool  # noqa: E402

MIB = 1 << 20


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def noop_task_ms(client: Client, tasks: int) -> float:
    """The scheduler's round trip per task: submit and gather no-op tasks."""
    start = time.perf_counter()
    client.gather([client.submit(abs, -i, pure=False) for i in range(tasks)])
    return (time.perf_counter() - start) * 1000 / tasks


def per_task_fit(address: str, capture: str, runs: int) -> list[tuple[int, int, float]]:
    """(range bytes, tasks, seconds) of the in-process cluster read, several range sizes."""
    rows = []
    size = Path(capture).stat().st_size
    for range_bytes in (size // 2 + 1, 64 * MIB, 16 * MIB, 4 * MIB, 1 * MIB):
        options = ClusterOptions(address, range_bytes)
        seconds = median_seconds(partial(read_on_cluster, options, (capture,), None), runs)
        split = cluster_ranges.split(capture, range_bytes)
        tasks = 1 + (len(split.starts) + 1 if split is not None else 0)  # plan, ranges, merge
        rows.append((range_bytes, tasks, seconds))
    return rows


def slope(rows: list[tuple[int, int, float]]) -> float:
    """Least-squares seconds per extra task."""
    xs = [float(tasks) for _, tasks, _ in rows]
    ys = [seconds for _, _, seconds in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def result_bytes(capture: str) -> int:
    split = cluster_ranges.split(capture, 128 * MIB)
    assert split is not None
    return len(pickle.dumps(cluster_ranges.read(split, 1), protocol=pickle.HIGHEST_PROTOCOL))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per row (median is kept)")
    args = parser.parse_args()
    audit = audit_command()
    if audit is None:
        print("the `audit` command is not installed: pip install -e '.[cluster]'")
        return 2
    pcap, _pcapng, _truth = ensure_captures(args.packets)
    policy = ["--allow", "US,EU", "--format", "json", "-q"]
    shared = os.environ.get("AUDITOR_SHARED_DATA")
    meetings = sorted(str(p) for p in Path(shared or "/nonexistent").glob("pcaps/meetings/*.pcap*"))
    print(f"start: {load()}, {os.cpu_count()} CPUs; {pcap} ({pcap.stat().st_size:,} bytes)")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=":0") as cluster,  # fmt: skip
        Client(cluster, set_as_default=False) as client,
    ):
        address = cluster.scheduler_address
        print(f"cluster: {address}, 2 worker processes, 1 thread each; {load()}")
        one = [*audit, str(pcap), *policy]
        rows = [
            time_tool("local --workers 1", [*one, "--workers", "1"], args.runs),
            time_tool("local --workers 2", [*one, "--workers", "2"], args.runs),
        ]
        for size in ("1G", "128M", "32M", "8M"):
            name = f"cluster, --range-size {size}"
            rows.append(time_tool(name, [*one, "--cluster", address, "--range-size", size],
                                  args.runs))  # fmt: skip
        if meetings:
            many = [*audit, *meetings, *policy]
            rows.append(time_tool(f"{len(meetings)} meetings, local", [*many, "--workers", "2"],
                                  args.runs))  # fmt: skip
            rows.append(time_tool(f"{len(meetings)} meetings, cluster",
                                  [*many, "--cluster", address], args.runs))  # fmt: skip
        print(f"\n| whole `audit` command ({load()}) | wall s | cpu s (client) | peak RSS |")
        print("|---|---:|---:|---:|")
        for row in rows:
            print(f"| {row.name} | {row.seconds:.2f} | {row.cpu:.2f} | {row.rss_mb:.0f} MB |")
        fit = per_task_fit(address, str(pcap), args.runs)
        print(f"\n| in-process cluster read ({load()}) | tasks | seconds |")
        print("|---|---:|---:|")
        for range_bytes, tasks, seconds in fit:
            print(f"| ranges of {range_bytes / MIB:.0f} MiB | {tasks} | {seconds:.2f} |")
        print(f"\nper extra task (least squares, 2 workers): {slope(fit) * 1000:.1f} ms wall")
        print(f"no-op Dask task round trip: {noop_task_ms(client, 1000):.2f} ms ({load()})")
        print(f"a 128 MiB range's result, pickled: {result_bytes(str(pcap)):,} bytes")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import distributed"], check=True)
    print(f"client import of distributed: {time.perf_counter() - start:.2f} s ({load()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
