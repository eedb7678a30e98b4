"""A time-bounded fuzz run of the capture reader: python -m fuzz.run --seconds 60.

Mutates seed captures (the shipped demo meeting and generated pcap/pcapng of every byte order
and block kind), reads each result through every path of the reader and checks the promises of
fuzz/oracle.py. With atheris installed (``pip install atheris``) the default engine is
coverage-guided libFuzzer; otherwise, or with ``--engine random``, a seeded random mutator.
Findings are saved to ``--findings`` (one file per input, replayable with ``--replay FILE``);
the exit status is 1 when there were any, 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fuzz.capgen import Capture, gzipped, seed_captures
from fuzz.mutate import KINDS, Edit, mutate

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = (ROOT / "fixtures" / "demo-meeting.pcap", ROOT / "fixtures" / "demo-meeting.pcapng")
DEMO_PREFIX = 64 * 1024  # the demo captures are cut here: small inputs give more runs per second


@dataclass(frozen=True, slots=True)
class Seed:
    name: str
    data: bytes
    boundaries: tuple[int, ...]  # where the header and each record end, when known


def seeds(rng: random.Random) -> list[Seed]:
    found = []
    for path in FIXTURES:
        if path.exists():
            data = path.read_bytes()
            found.append(Seed(path.name, data[:DEMO_PREFIX], ()))
    for index, capture in enumerate(seed_captures(rng)):
        found.append(_seed(f"generated-{index}.{capture.fmt}", capture))
    return found


def _seed(name: str, capture: Capture) -> Seed:
    return Seed(name, capture.data, (capture.header_end, *capture.record_ends))


def fuzz_input(rng: random.Random, pool: Sequence[Seed]) -> bytes:
    """One damaged capture: edits at random or at field offsets, a cut, a splice, maybe gzip."""
    seed = rng.choice(pool)
    data = seed.data
    edits: list[Edit] = []
    for _ in range(rng.randrange(1, 9)):
        if seed.boundaries and rng.random() < 0.6:
            # A record or block header field: where lengths and types live.
            offset = rng.choice(seed.boundaries) + rng.choice((0, 4, 8, 12, 16, 20, 24, 28))
        else:
            offset = rng.randrange(len(data))
        edits.append((rng.choice(KINDS), offset, rng.getrandbits(32)))
    data = mutate(data, edits)
    roll = rng.random()
    if roll < 0.15:
        data = data[: rng.randrange(len(data) + 1)]
    elif roll < 0.25:
        other = rng.choice(pool).data
        data = data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]
    if rng.random() < 0.1:
        packed = gzipped(data)
        data = packed if rng.random() < 0.5 else packed[: rng.randrange(len(packed) + 1)]
    return data


def scratch_dir() -> str:
    # A RAM disk where there is one (thousands of small writes); mkdtemp makes it private.
    shm = Path("/dev/shm")  # noqa: S108
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="auditor-fuzz-", dir=base)


def run_random(seconds: float, seed: int, findings: Path, parallel_every: int) -> tuple[int, int]:
    from fuzz.oracle import FindingError, check

    rng = random.Random(seed)  # noqa: S311 - fuzz inputs, not secrets
    pool = seeds(rng)
    folder = scratch_dir()
    path = os.path.join(folder, "input.bin")
    deadline = time.monotonic() + seconds
    runs = found = 0
    try:
        while time.monotonic() < deadline:
            data = fuzz_input(rng, pool)
            with open(path, "wb") as stream:
                stream.write(data)
            runs += 1
            try:
                check(path, size=len(data), parallel=bool(parallel_every)
                      and runs % parallel_every == 0)
            except FindingError as error:
                found += 1
                saved = save_finding(findings, data)
                print(f"fuzz: FINDING {saved}: {error}", file=sys.stderr)
                traceback.print_exc(limit=6, file=sys.stderr)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    return runs, found


def save_finding(findings: Path, data: bytes) -> Path:
    import hashlib

    findings.mkdir(parents=True, exist_ok=True)
    target = findings / f"finding-{hashlib.sha256(data).hexdigest()[:16]}.bin"
    target.write_bytes(data)
    return target


def run_atheris(seconds: float, seed: int, findings: Path) -> int:
    """libFuzzer over the reader, coverage-guided; never returns (libFuzzer exits itself)."""
    import atheris

    with atheris.instrument_imports():
        import auditor.capture  # noqa: F401 - instrumented for coverage feedback
        from fuzz.oracle import check

    corpus = Path(tempfile.mkdtemp(prefix="auditor-fuzz-corpus-"))
    for item in seeds(random.Random(seed)):  # noqa: S311 - fuzz inputs, not secrets
        (corpus / item.name).write_bytes(item.data)
    folder = scratch_dir()
    path = os.path.join(folder, "input.bin")

    def one_input(data: bytes) -> None:
        with open(path, "wb") as stream:
            stream.write(data)
        check(path, size=len(data))

    findings.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        f"-max_total_time={max(1, int(seconds))}",
        f"-seed={seed}",
        f"-artifact_prefix={findings}{os.sep}",
        "-max_len=131072",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0  # not reached


def replay(paths: Sequence[str]) -> int:
    from fuzz.oracle import FindingError, check

    failed = 0
    for name in paths:
        try:
            outcome = check(name, parallel=True)
        except FindingError as error:
            failed += 1
            print(f"{name}: FINDING: {error}")
            traceback.print_exc(limit=8)
            continue
        print(f"{name}: ok: {outcome.error or (outcome.result and outcome.result.summary)}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run")
    parser.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto",
                        help="auto: atheris when installed, else random")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--findings", type=Path, default=Path("fuzz-findings"),
                        help="folder for inputs that broke a promise (default ./fuzz-findings)")
    parser.add_argument("--parallel-every", type=int, default=50, metavar="N",
                        help="random engine: every Nth input also read by two workers (0: never)")
    parser.add_argument("--replay", nargs="+", metavar="FILE",
                        help="check these inputs once each and exit")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    seed = args.seed if args.seed is not None else int(time.time())
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "random"
        else:
            engine = "atheris"
    print(f"fuzz: engine {engine}, seed {seed}, {args.seconds:g} s", file=sys.stderr)
    if engine == "atheris":
        return run_atheris(args.seconds, seed, args.findings)
    started = time.monotonic()
    runs, found = run_random(args.seconds, seed, args.findings, args.parallel_every)
    elapsed = time.monotonic() - started
    print(
        f"fuzz: {runs} inputs in {elapsed:.1f} s ({runs / max(elapsed, 1e-9):.0f}/s), "
        f"{found} finding(s)" + (f" saved in {args.findings}" if found else ""),
        file=sys.stderr,
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
