"""Alternating A/B of the whole audit command between source trees: CPU s and peak RSS.

    python bench/ab.py --tree A=/path/to/old --tree B=/path/to/new [--only voip-1m,headline]
                       [--runs 8]

Each run is `python -m auditor bench/data/SHAPE.pcap --allow US,EU -f json -o /dev/null -q
--workers 1` (for a shape that is a folder, small-files-100: one such run per file, added up),
with PYTHONPATH set to the tree, started from the temporary directory (python -m puts the
working directory first on sys.path: started inside a checkout, it would time that checkout
whatever PYTHONPATH says). The trees take turns run by run, so a change in the machine's load
falls on both; the min and median of each are printed with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_SHAPES = ("voip-1m", "headline", "portscan-1m", "public-100k")


def timed(tree: str, capture: Path) -> tuple[float, int]:
    """CPU seconds (user + sys) and peak RSS in MB of one audit of ``capture`` by ``tree``."""
    cache = Path(tempfile.gettempdir()) / "auditor-bench-pyc"  # byte-code, as when installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=tree, PYTHONPYCACHEPREFIX=str(cache))
    command = [sys.executable, "-m", "auditor", str(capture), "--allow", "US,EU", "-f", "json",
               "-o", os.devnull, "-q", "--workers", "1"]  # fmt: skip
    child = subprocess.Popen(command, cwd=tempfile.gettempdir(), env=env)
    _pid, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # a failed run is no timing
        raise SystemExit(f"{tree}: the audit of {capture} failed ({status:#x})")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def _captures(shape: str) -> list[Path]:
    """The shape's capture, or each file of its folder (small-files-100): none when missing."""
    folder = DATA / shape
    if folder.is_dir():
        return sorted(folder.iterdir())
    capture = DATA / f"{shape}.pcap"
    return [capture] if capture.exists() else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH, twice or more")
    parser.add_argument("--only", help="comma-separated shapes (bench/data/SHAPE.pcap or folder)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tree per shape")
    args = parser.parse_args()
    trees = dict(item.split("=", 1) for item in args.tree)
    for shape in args.only.split(",") if args.only else DEFAULT_SHAPES:
        captures = _captures(shape)
        if not captures:
            print(f"{DATA / shape}[.pcap]: missing (bench/every_shape.py --only {shape} writes it)")
            return 2
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, tree in trees.items():
                each = [timed(tree, capture) for capture in captures]
                runs[name].append((sum(c for c, _ in each), max(r for _, r in each)))
        load = os.getloadavg()[0]
        for name, got in runs.items():
            cpu = [seconds for seconds, _ in got]
            print(f"{shape:12} {name:8} runs {len(cpu)}  min {min(cpu):6.2f}  median "
                  f"{statistics.median(cpu):6.2f} CPU s  peak {max(r for _, r in got)} MB"
                  f"  (load {load:.1f})", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
