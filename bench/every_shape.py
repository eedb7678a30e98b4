"""Issue 15's shapes side by side: the audit against tshark, ndpiReader, tcpdump and capinfos.

    python bench/every_shape.py [--only portscan-200k,voip-1m,...] [--scale 0.1] [--stages]

Each shape is generated into bench/data/ once (struct-based writers in bench/shapes.py) with
PUBLIC servers (64.0.0.0/6, which the bundled databases place, mostly in the US and Canada),
so every server is located and judged. Each tool runs as a subprocess under /usr/bin/time
(process start included); the table gives wall and CPU seconds (prefer CPU on a loaded
machine), peak RSS, and the ratio to tshark from CPU seconds in the same run, with the load
average. --stages also prints bench/stages.py's per-stage timings for the audit.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.run import DATA, audit_for, run_timed  # noqa: E402
from bench.shapes import (  # noqa: E402
    portscan_records,
    public_server_records,
    server_records,
    voip_records,
    write_pcap,
)

MEETINGS = Path(os.environ.get("AUDITOR_SHARED_DATA", "/work/shared/data")) / "pcaps" / "meetings"


@dataclass(frozen=True)
class Shape:
    name: str
    packets: int
    make: Callable[[Path], None]
    files: int = 1  # > 1: that many separate runs, each on its own small file
    compressed: bool = False


def _writer(records: Callable[[], Iterator[bytes]]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        if not path.exists():
            write_pcap(path, records())

    return make


def shapes(scale: float) -> list[Shape]:
    def n(count: int) -> int:
        return max(1, int(count * scale))

    million = n(1_000_000)
    return [
        Shape("portscan-200k", n(400_000),
              _writer(lambda: portscan_records(n(200_000), answered=True))),
        Shape("portscan-1m", million, _writer(lambda: portscan_records(million, answered=False))),
        Shape("public-100k", million,
              _writer(lambda: public_server_records(n(100_000), million))),
        Shape("public-10k", million, _writer(lambda: public_server_records(n(10_000), million))),
        Shape("voip-1m", n(1_000_000), _writer(lambda: voip_records(n(1_000_000)))),
        Shape("headline", n(1_000_000), _headline(n(1_000_000))),
        Shape("headline-gzip", n(1_000_000), _gzip_headline(n(1_000_000)), compressed=True),
        Shape("small-files-100", 0, _small_files, files=100),
        Shape("servers-1m", 2 * n(1_000_000), _writer(lambda: server_records(n(1_000_000)))),
    ]  # fmt: skip


def _headline(packets: int) -> Callable[[Path], None]:
    """bench/gen.py's hour-long meeting (bench/run.py's file), linked under the shape's name."""

    def make(path: Path) -> None:
        if path.exists():
            return
        from bench.run import ensure_captures

        pcap, _pcapng, _truth = ensure_captures(packets)
        path.symlink_to(pcap.name)

    return make


def _gzip_headline(packets: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        if path.exists():
            return
        from bench.run import ensure_captures

        pcap, _pcapng, _truth = ensure_captures(packets)
        with pcap.open("rb") as source, gzip.open(path, "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 1 << 20)

    return make


def _small_files(path: Path) -> None:
    small_files(path, 100)


def small_files(folder: Path, count: int) -> list[Path]:
    """``count`` small captures: the meeting captures of the shared data, copied round-robin."""
    folder.mkdir(exist_ok=True)
    found = sorted(p for p in MEETINGS.iterdir() if p.suffix in (".pcap", ".pcapng"))
    paths = []
    for index in range(count):
        source = found[index % len(found)]
        target = folder / f"{index:03d}-{source.name}"
        if not target.exists():
            shutil.copyfile(source, target)
        paths.append(target)
    return paths


def path_of(shape: Shape, scale: float) -> Path:
    name = shape.name if scale == 1 or shape.files > 1 else f"{shape.name}-x{scale:g}"
    if shape.files > 1:
        return DATA / name
    return DATA / (name + (".pcap.gz" if shape.compressed else ".pcap"))


def tools(audit: list[str], db: str | None) -> dict[str, Callable[[str], list[str]]]:
    # Without --db the audit uses its bundled databases, as a user's first run does.
    dbs = ["--db", db] if db else []
    common = ["-f", "json", "-o", os.devnull, "-q", "--allow", "US,CA,EU", *dbs]
    return {
        "audit --workers 1": lambda f: [*audit, f, *common, "--workers", "1"],
        "audit --workers 2": lambda f: [*audit, f, *common, "--workers", "2"],
        "tshark conv": lambda f: ["tshark", "-n", "-q", "-r", f, "-z", "conv,udp",
                                  "-z", "conv,tcp"],
        "ndpiReader": lambda f: ["ndpiReader", "-q", "-i", f],
        "tcpdump": lambda f: ["tcpdump", "-n", "-q", "-r", f],
        "capinfos -c": lambda f: ["capinfos", "-c", f],
    }  # fmt: skip


def time_pass(argvs: list[list[str]], env: dict[str, str] | None) -> tuple[float, float, float]:
    """Wall and CPU seconds over every file of a shape, and the largest peak RSS (MB)."""
    wall = cpu = rss = 0.0
    for argv in argvs:
        # The audit exits 2 when a bound left something unjudged: timed all the same (a crash
        # is refused by run_timed).
        w, c, r, _out = run_timed(argv, ok=(0, 1, 2), env=env)
        wall, cpu, rss = wall + w, cpu + c, max(rss, r)
    return wall, cpu, rss


def bench(shape: Shape, options: argparse.Namespace, audit: list[str],
          env: dict[str, str]) -> None:  # fmt: skip
    scale, stages = options.scale, options.stages
    path = path_of(shape, scale)
    DATA.mkdir(exist_ok=True)
    shape.make(path)
    files = sorted(str(p) for p in path.iterdir()) if shape.files > 1 else [str(path)]
    size = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"\n{shape.name}: {len(files)} file(s), {size:.0f} MB, {shape.packets:,} packets"
          f" (load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"  {'tool':20} {'wall s':>8} {'cpu s':>8} {'RSS MB':>7} {'tshark/x (cpu)':>15}"
          f" {'paired':>8}")  # fmt: skip
    commands: dict[str, tuple[list[list[str]], dict[str, str] | None]] = {}
    for name, argv in tools(audit, options.db).items():
        if shutil.which(argv("x")[0]) is None and not name.startswith("audit"):
            print(f"  {name:20} (not installed)")
            continue
        if shape.compressed and name in ("ndpiReader", "tcpdump"):
            argvs = [["sh", "-c", f"gzip -dc {f} | {' '.join(argv('-'))}"] for f in files]
        else:
            argvs = [argv(f) for f in files]
        commands[name] = (argvs, env if name.startswith("audit") else None)
    # Every pass runs each tool once, in turn: the machine's speed drifts by a third between
    # minutes (capinfos alone 0.14 -> 0.27 s the same morning), so each ratio is also taken
    # within a pass ("paired": the median of the passes' ratios), beside the ratio of medians.
    passes: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    failed: dict[str, str] = {}
    for _ in range(options.runs):
        for name, (argvs, chosen_env) in commands.items():
            if name in failed:
                continue
            try:
                passes[name].append(time_pass(argvs, chosen_env))
            except RuntimeError as error:
                failed[name] = str(error)
    tshark = next((name for name in passes if name.startswith("tshark")), None)
    for name, got in passes.items():
        if name in failed:
            print(f"  {name:20} failed: {failed[name]}")
            continue
        wall = statistics.median(p[0] for p in got)
        cpu = statistics.median(p[1] for p in got)
        reference = passes.get(tshark or "", [])
        ratio = paired = ""
        if reference and tshark not in failed and cpu:
            ratio = f"{statistics.median(p[1] for p in reference) / cpu:.1f}x"
            # A tool that failed in a later pass has fewer: its passes pair with the first ones.
            pairs = zip(reference, got, strict=False)
            # A pass too short for the clock (capinfos over small files: 0 CPU s) has no ratio.
            ratios = [t[1] / a[1] for t, a in pairs if a[1]]
            paired = f"{statistics.median(ratios):.1f}x" if ratios else ""
        print(f"  {name:20} {wall:8.2f} {cpu:8.2f} {max(p[2] for p in got):7.0f} {ratio:>15}"
              f" {paired:>8}")  # fmt: skip
    if stages and shape.files == 1:
        subprocess.run([sys.executable, str(HERE / "stages.py"), files[0], "--allow", "US,CA,EU"],
                       check=False, env=env)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated shape names")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="shrink every shape (0.1: a tenth)")  # fmt: skip
    parser.add_argument("--stages", action="store_true", help="also time the audit's stages")
    parser.add_argument("--runs", type=int, default=1, help="median of this many passes")
    parser.add_argument("--db", help="one database instead of the bundled ones")
    parser.add_argument("--tree", type=Path, help="time this source tree's auditor (python -m)")
    args = parser.parse_args()
    audit, env = audit_for(args.tree)
    if audit is None:
        print("the audit command is not installed (pip install -e .)")
        return 1
    chosen = set(args.only.split(",")) if args.only else None
    for shape in shapes(args.scale):
        if chosen is None or shape.name in chosen:
            bench(shape, args, audit, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
