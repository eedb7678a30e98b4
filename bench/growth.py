"""How the audit's cost grows: per packet, per flow, per public endpoint, per file.

    python bench/growth.py [--only packets,flows,endpoints,files] [--tree PATH] [--runs 1]

For each dimension, the same generator as bench/every_shape.py writes three sizes that differ
only in that dimension (bench/data/growth-*), the audit and tshark each read them under
/usr/bin/time, and a least-squares line through the three CPU times splits the cost into a
fixed part (start-up, databases, imports) and a part per unit. The fixed part is what the
small-files shape pays a hundred times; the slope is what a big capture pays per unit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.every_shape import small_files  # noqa: E402
from bench.run import DATA, audit_for, run_timed  # noqa: E402
from bench.shapes import (  # noqa: E402
    portscan_records,
    public_server_records,
    voip_records,
    write_pcap,
)


@dataclass(frozen=True)
class Dimension:
    name: str
    unit: str
    sizes: tuple[int, int, int]
    records: Callable[[int], Iterator[bytes]] | None  # None: `size` separate small files


DIMENSIONS = (
    Dimension("packets", "packet", (100_000, 300_000, 1_000_000), voip_records),
    Dimension("flows", "flow", (50_000, 150_000, 500_000),
              lambda n: portscan_records(n, answered=False)),
    # Two packets per server: the cost of an endpoint, not of the packets that carry it.
    Dimension("endpoints", "endpoint", (10_000, 30_000, 100_000),
              lambda n: public_server_records(n, 2 * n)),
    Dimension("files", "file", (5, 15, 40), None),
)  # fmt: skip


def files_for(dimension: Dimension, size: int) -> list[str]:
    DATA.mkdir(exist_ok=True)
    if dimension.records is not None:
        path = DATA / f"growth-{dimension.name}-{size}.pcap"
        if not path.exists():
            write_pcap(path, dimension.records(size))
        return [str(path)]
    return [str(path) for path in small_files(DATA / "growth-files", size)]


def cpu_of(argvs: list[list[str]], runs: int, env: dict[str, str] | None) -> tuple[float, float]:
    """CPU seconds (median of ``runs`` passes over every file) and peak RSS in MB."""
    passes, peak = [], 0.0
    for _ in range(runs):
        total = 0.0
        for argv in argvs:
            _wall, cpu, rss, _out = run_timed(argv, ok=(0, 1, 2), env=env)
            total, peak = total + cpu, max(peak, rss)
        passes.append(total)
    return statistics.median(passes), peak


def fit(sizes: tuple[int, ...], seconds: list[float]) -> tuple[float, float]:
    """Least-squares (fixed seconds, seconds per unit)."""
    mean_x, mean_y = statistics.fmean(sizes), statistics.fmean(seconds)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(sizes, seconds, strict=True)) / sum(
        (x - mean_x) ** 2 for x in sizes
    )
    return mean_y - slope * mean_x, slope


def measure(dimension: Dimension, audit: list[str], env: dict[str, str] | None, runs: int) -> None:
    tools: dict[str, tuple[Callable[[str], list[str]], dict[str, str] | None]] = {
        "audit": (lambda f: [*audit, f, "-f", "json", "-o", os.devnull, "-q",
                             "--allow", "US,CA,EU", "--workers", "1"], env),
        "tshark": (lambda f: ["tshark", "-n", "-q", "-r", f, "-z", "conv,udp", "-z", "conv,tcp"],
                   None),
    }  # fmt: skip
    print(f"\n{dimension.name} (load average {os.getloadavg()[0]:.1f})")
    print(f"  {'tool':8} " + " ".join(f"{f'{s:,} {dimension.unit}s':>22}" for s in dimension.sizes)
          + f" {'fixed s':>8} {f'us per {dimension.unit}':>16}")  # fmt: skip
    for name, (argv, tool_env) in tools.items():
        if shutil.which(argv("x")[0]) is None and name != "audit":
            print(f"  {name:8} (not installed)")
            continue
        cells, seconds = [], []
        for size in dimension.sizes:
            cpu, rss = cpu_of([argv(f) for f in files_for(dimension, size)], runs, tool_env)
            seconds.append(cpu)
            cells.append(f"{cpu:8.2f} s {rss:6.0f} MB")
        fixed, slope = fit(dimension.sizes, seconds)
        print(f"  {name:8} " + " ".join(f"{c:>22}" for c in cells)
              + f" {fixed:8.2f} {slope * 1e6:16.2f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated: packets,flows,endpoints,files")
    parser.add_argument("--runs", type=int, default=1, help="median of this many passes")
    parser.add_argument("--tree", type=Path, help="time this source tree's auditor (python -m)")
    args = parser.parse_args()
    audit, env = audit_for(args.tree)
    if audit is None:
        print("the audit command is not installed (pip install -e .)")
        return 1
    chosen = set(args.only.split(",")) if args.only else None
    for dimension in DIMENSIONS:
        if chosen is None or dimension.name in chosen:
            measure(dimension, audit, env, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
