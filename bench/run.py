"""Benchmark: the auditor against tshark, dpkt and scapy on 1M-packet meeting captures.

    python bench/run.py [--packets 1000000] [--runs 3] [--profile]
    python bench/run.py --servers 1000000 [--runs 1]    # the many-servers shape instead

Generates bench/data/meeting-<N>.pcap and .pcapng if missing, then times each tool as a
subprocess (process start included), prints wall and CPU seconds, packets/s and the ratio to
tshark (both from wall time), peak RSS, and checks that the auditor's flows equal the
generator's truth and tshark's conversations. On a loaded machine compare CPU seconds too:
two workers cannot beat one when the other core is busy with something else.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.gen import Truth, generate  # noqa: E402
from bench.shapes import server_records, write_pcap  # noqa: E402

DATA = HERE / "data"
WARM_UP = HERE.parent / "fixtures" / "demo-meeting.pcap"  # imports what a real run imports
MMDB_CANDIDATES = [
    HERE.parent.parent / "shared" / "data" / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb",
    HERE.parent / "auditor" / "data" / "auditor-country.mmdb",
]
SCAPY_SLICE = 100_000  # scapy is too slow for the whole file: time a slice, extrapolate

DPKT_SCRIPT = """
import sys, dpkt
flows = {}
with open(sys.argv[1], 'rb') as f:
    reader = dpkt.pcapng.Reader(f) if sys.argv[1].endswith('ng') else dpkt.pcap.Reader(f)
    for ts, buf in reader:
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
            continue
        l4 = ip.data
        if isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            key = (ip.p, ip.src, ip.dst, l4.sport, l4.dport)
        else:
            key = (ip.p, ip.src, ip.dst, 0, 0)
        size = ip.len if isinstance(ip, dpkt.ip.IP) else 40 + ip.plen
        rec = flows.get(key)
        if rec is None:
            flows[key] = [1, size, ts, ts]
        else:
            rec[0] += 1; rec[1] += size; rec[3] = ts
print(len(flows))
"""

SCAPY_SCRIPT = """
import struct, sys
from scapy.utils import RawPcapReader
flows = {}
u = struct.Struct('!H').unpack_from
for data, meta in RawPcapReader(sys.argv[1]):
    off = 14
    et = u(data, 12)[0]
    while et in (0x8100, 0x88a8):
        et = u(data, off + 2)[0]; off += 4
    if et == 0x0800:
        ihl = (data[off] & 15) * 4
        key = (data[off + 9], data[off + 12:off + 20], data[off + ihl:off + ihl + 4])
        size = u(data, off + 2)[0]
    elif et == 0x86dd:
        key = (data[off + 6], data[off + 8:off + 40], data[off + 40:off + 44])
        size = 40 + u(data, off + 4)[0]
    else:
        continue
    rec = flows.get(key)
    if rec is None:
        flows[key] = [1, size]
    else:
        rec[0] += 1; rec[1] += size
print(len(flows))
"""

READER_SCRIPT = """
import sys
from auditor.capture import read_capture
r = read_capture(sys.argv[1], workers=int(sys.argv[2]))
print(len(r.flows), r.summary.packets)
"""


@dataclass
class Timing:
    name: str
    seconds: float  # median wall time of the runs, extrapolated for slices
    cpu: float  # median CPU time (user + system, all processes), extrapolated likewise
    rss_mb: float  # peak RSS of the largest single process
    note: str = ""
    output: str = ""


def run_timed(
    argv: list[str], ok: tuple[int, ...] = (0, 1), env: dict[str, str] | None = None
) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) of the child or its largest descendant, stdout.

    GNU time measures the RSS: a child forked from this (big) process would otherwise report
    this process's size, as Linux keeps the high-water mark across exec.
    """
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-q", "-f", "%U %S %M", "-o", rss.name, *argv],
            capture_output=True,
            check=False,
            env=env,
        )
        elapsed = time.perf_counter() - start
        user, system, peak_kb = rss.read().split()[-3:]
    # audit exits 1 when it finds violations, and 2 for an incomplete audit as for a crash: a
    # crash is never a timing (a stale build once "ran" public-100k in half the time, exit 2).
    if proc.returncode not in ok or b"internal error" in proc.stderr:
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {' '.join(last)}")
    cpu = float(user) + float(system)
    return elapsed, cpu, int(peak_kb) / 1024, proc.stdout.decode(errors="replace")


def time_tool(name: str, argv: list[str], runs: int, scale: float = 1.0, note: str = "") -> Timing:
    results = [run_timed(argv) for _ in range(runs)]
    seconds = statistics.median(r[0] for r in results) * scale
    cpu = statistics.median(r[1] for r in results) * scale
    return Timing(name, seconds, cpu, max(r[2] for r in results), note, results[-1][3])


def audit_command() -> list[str] | None:
    """The installed `audit` console script, if it is there and works."""
    found = shutil.which("audit") or shutil.which("audit", path=str(Path(sys.executable).parent))
    if found is None:
        return None
    probe = subprocess.run([found, "--version"], capture_output=True, check=False)
    return [found] if probe.returncode == 0 else None


def audit_for(tree: Path | None) -> tuple[list[str] | None, dict[str, str]]:
    """The command and environment that run the auditor of ``tree`` (python -m auditor with
    PYTHONPATH, for A/B runs of two checkouts), or the installed one; warmed up once.

    Byte-code is cached (outside the tree) as an installed package has it: a shell with
    PYTHONDONTWRITEBYTECODE would otherwise make every run compile ~180 modules first.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "auditor-bench-pyc")
    if tree is None:
        command = audit_command()
    else:
        print(f"auditor from {tree.resolve()}")
        command, env["PYTHONPATH"] = [sys.executable, "-m", "auditor"], str(tree.resolve())
        # python -m puts the working directory first on sys.path: started inside another
        # checkout (bench/every_shape.py from /work/main), it would time that checkout.
        env["PYTHONSAFEPATH"] = "1"
    if command is not None:  # the first run compiles and caches: not timed
        warm = [*command, str(WARM_UP), "-f", "json", "-o", os.devnull, "-q", "--allow", "US"]
        subprocess.run(warm, env=env, capture_output=True, check=False)
    return command, env


def mmdb() -> Path | None:
    return next((p for p in MMDB_CANDIDATES if p.exists()), None)


def ensure_captures(packets: int) -> tuple[Path, Path, Truth | None]:
    DATA.mkdir(exist_ok=True)
    pcap, pcapng = DATA / f"meeting-{packets}.pcap", DATA / f"meeting-{packets}.pcapng"
    if pcap.exists() and pcapng.exists():
        return pcap, pcapng, None
    print(f"generating {packets} packets into {DATA} ...", flush=True)
    truth = generate(pcap, pcapng, packets)
    return pcap, pcapng, truth


def pcap_slice(pcap: Path, count: int) -> Path:
    """The first ``count`` records of a little-endian pcap, for the slow tools."""
    target = pcap.with_name(pcap.stem + f"-first{count}.pcap")
    if target.exists():
        return target
    import struct

    with pcap.open("rb") as src, target.open("wb") as dst:
        dst.write(src.read(24))
        for _ in range(count):
            head = src.read(16)
            if len(head) < 16:
                break
            dst.write(head + src.read(struct.unpack("<IIII", head)[2]))
    return target


def tshark_conversations(out: str) -> Counter[tuple[str, str, str]]:
    """Frames per (proto, endpoint, endpoint), endpoints sorted, from tshark's conv tables."""
    found: Counter[tuple[str, str, str]] = Counter()
    proto = ""
    for line in out.splitlines():
        if line.startswith(("UDP Conversations", "TCP Conversations")):
            proto = line[:3].lower()
        match = re.match(r"(\S+)\s+<->\s+(\S+)\s+\d+\s+\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+(\d+)", line)
        if match:
            a, b = sorted((match[1], match[2]))
            found[(proto, a, b)] += int(match[3])
    return found


def check_flows(path: Path, truth: Truth | None, tshark_out: str) -> list[str]:
    """Compare the auditor's flows with tshark's conversations and the generator's truth."""
    from auditor.capture import read_capture

    result = read_capture(path)
    problems: list[str] = []
    ours: Counter[tuple[str, str, str]] = Counter()
    for flow in result.flows:
        a, b = sorted((f"{flow.a}:{flow.a_port}", f"{flow.b}:{flow.b_port}"))
        ours[({6: "tcp", 17: "udp"}[flow.protocol], a, b)] += flow.packets
    theirs = tshark_conversations(tshark_out)
    if ours != theirs:
        problems.append(f"{path.name}: flows/packets differ from tshark's conversations")
    if truth is not None:
        want_packets = Counter[tuple[int, str, int, str, int]]()
        want_bytes = Counter[tuple[int, str, int, str, int]]()
        for key, n in truth.packets.items():
            want_packets[key] += n
            want_bytes[key] += truth.ip_bytes[key]
        for flow in result.flows:
            ab = (flow.protocol, flow.a, flow.a_port, flow.b, flow.b_port)
            ba = (flow.protocol, flow.b, flow.b_port, flow.a, flow.a_port)
            if (flow.packets_ab, flow.bytes_ab, flow.packets_ba, flow.bytes_ba) != (
                want_packets[ab],
                want_bytes[ab],
                want_packets[ba],
                want_bytes[ba],
            ):
                problems.append(f"{path.name}: flow {ab} differs from the generator's truth")
    print(
        f"  {path.name}: {len(result.flows)} flows, {result.summary.ip_packets} IP packets,"
        f" {result.summary.ip_bytes} IP bytes; tshark conversations: {len(theirs)}"
    )
    return problems


def profile(path: Path) -> None:
    import cProfile
    import pstats

    from auditor.capture import read_capture

    profiler = cProfile.Profile()
    profiler.enable()
    read_capture(path)
    profiler.disable()
    print(f"\ncProfile of read_capture({path.name}), top functions by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median is kept)")
    parser.add_argument("--profile", action="store_true", help="also cProfile the reader")
    parser.add_argument("--skip-slow", action="store_true", help="skip tshark/dpkt/scapy")
    parser.add_argument("--only", choices=["pcap", "pcapng"], help="time one format only")
    parser.add_argument("--servers", type=int, metavar="N",
                        help="time N distinct servers, two packets each, instead")  # fmt: skip
    args = parser.parse_args()
    if args.servers:
        return many_servers(args.servers, args.runs, skip_slow=args.skip_slow)

    pcap, pcapng, truth = ensure_captures(args.packets)
    python = sys.executable
    audit = audit_command()
    db = mmdb()
    sizes = {p: p.stat().st_size for p in (pcap, pcapng)}
    print(
        f"packets per file: {args.packets}; pcap {sizes[pcap] / 1e6:.0f} MB,"
        f" pcapng {sizes[pcapng] / 1e6:.0f} MB; {os.cpu_count()} CPUs; runs: {args.runs}"
    )

    problems: list[str] = []
    for path in (pcap, pcapng):
        if args.only and path.suffix != "." + args.only:
            continue
        timings: list[Timing] = []
        for workers in (1, 2):
            if audit is not None and db is not None:
                argv = [*audit, str(path), "--format", "json", "--db", str(db), "--allow",
                        "US,EU", "-q", "-o", os.devnull, "--workers", str(workers)]  # fmt: skip
                timings.append(time_tool(f"audit --workers {workers}", argv, args.runs))
            argv = [python, "-c", READER_SCRIPT, str(path), str(workers)]
            timings.append(time_tool(f"read_capture workers={workers}", argv, args.runs))
        if not args.skip_slow:
            argv = ["tshark", "-n", "-r", str(path), "-q", "-z", "conv,udp", "-z", "conv,tcp"]
            timings.append(time_tool("tshark conv,udp+conv,tcp", argv, 1))
            timings.append(time_tool("dpkt flow table", [python, "-c", DPKT_SCRIPT, str(path)], 1))
            if path.suffix == ".pcap":
                piece = pcap_slice(path, SCAPY_SLICE)
                scale = args.packets / SCAPY_SLICE
                argv = [python, "-c", SCAPY_SCRIPT, str(piece)]
                note = f"{SCAPY_SLICE} packets x{scale:g}"
                timings.append(time_tool("scapy RawPcapReader+struct", argv, 1, scale, note))
        report(path, args.packets, timings)
        if not args.skip_slow:
            tshark_out = next(t.output for t in timings if t.name.startswith("tshark"))
            problems += check_flows(path, truth, tshark_out)
    if args.profile:
        profile(pcap)
        profile(pcapng)
    for problem in problems:
        print("MISMATCH:", problem)
    return 1 if problems else 0


def many_servers(servers: int, runs: int, *, skip_slow: bool) -> int:
    """A million distinct servers (2M packets): every one located, judged and reported, in
    bounded memory; each report format the auditor streams or summarises, and tshark."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"servers-{servers}.pcap"
    if not path.exists():
        print(f"generating {servers} servers into {path} ...", flush=True)
        write_pcap(path, server_records(servers))
    audit, db = audit_command(), HERE.parent / "auditor" / "data" / "auditor-country.mmdb"
    if audit is None:
        print("the audit command is not installed")
        return 1
    print(f"{servers} servers, {2 * servers} packets, {path.stat().st_size / 1e6:.0f} MB")
    timings = []
    for fmt in ("json", "csv", "text"):
        argv = [*audit, str(path), "--format", fmt, "--db", str(db), "--allow", "US,CA,EU,GB",
                "-q", "-o", os.devnull]  # fmt: skip
        timings.append(time_tool(f"audit --format {fmt}", argv, runs))
    if not skip_slow:
        argv = ["tshark", "-n", "-r", str(path), "-q", "-z", "conv,udp"]
        timings.append(time_tool("tshark conv,udp", argv, 1))
    report(path, 2 * servers, timings)
    return 0


def report(path: Path, packets: int, timings: list[Timing]) -> None:
    reference = next((t.seconds for t in timings if t.name.startswith("tshark")), None)
    print(f"\n{path.name} (load average {os.getloadavg()[0]:.1f})")
    print(f"  {'tool':30} {'wall s':>7} {'cpu s':>7} {'packets/s':>11} {'x tshark':>9} {'RSS':>7}")
    for t in timings:
        ratio = f"{reference / t.seconds:8.1f}x" if reference else "       -"
        print(f"  {t.name:30} {t.seconds:7.2f} {t.cpu:7.2f} {packets / t.seconds:11,.0f} {ratio} "
              f"{t.rss_mb:5.0f}MB  {t.note}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
