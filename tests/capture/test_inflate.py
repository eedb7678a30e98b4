"""The gzip reader against the stdlib's GzipFile (the oracle): whole, cut short, padded,
several members, damaged anywhere, the same bytes come out before the same error."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import sys
import zlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.capture import inflate
from auditor.capture.inflate import ERRORS, GzipStream

ROOT = Path(__file__).resolve().parent.parent.parent


def _payload(seed: int, size: int) -> bytes:
    """Capture-like bytes: runs that repeat (headers) between random ones (payloads)."""
    rng = random.Random(seed)  # noqa: S311 - test data
    parts, total = [], 0
    while total < size:
        part = rng.randbytes(rng.randrange(1, 300))
        parts.append(part * rng.randrange(1, 40))
        total += len(parts[-1])
    return b"".join(parts)[:size]


def _member(data: bytes, level: int, name: bool) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="c.pcap" if name else "", mode="wb", fileobj=out,
                       compresslevel=level, mtime=0) as packer:  # fmt: skip
        packer.write(data)
    return out.getvalue()


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    members = [
        _member(_payload(draw(st.integers(0, 2**16)), draw(st.integers(0, 120_000))),
                draw(st.integers(1, 9)), draw(st.booleans()))
        + b"\0" * draw(st.sampled_from([0, 0, 1, 7]))
        for _ in range(draw(st.integers(1, 3)))
    ]  # fmt: skip
    data = bytearray(b"".join(members))
    damage = draw(st.sampled_from(["none", "cut", "flip", "bytes", "tail", "garbage"]))
    if damage == "cut":
        del data[draw(st.integers(0, len(data))) :]
    elif damage == "flip":
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    elif damage == "bytes":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif damage == "tail":  # the last member's CRC or length
        data[len(data) - draw(st.integers(1, 8))] ^= 0xFF
    elif damage == "garbage":
        data += draw(st.binary(min_size=1, max_size=20))
    return bytes(data)


Outcome = tuple[bytes, str | None]


def _drain(read1: object, sizes: list[int]) -> Outcome:
    out, turn = bytearray(), 0
    while True:
        try:
            part = read1(sizes[turn % len(sizes)])  # type: ignore[operator]
        except ERRORS as error:
            # zlib's and zlib-ng's error classes differ; their messages are the same.
            kind = "zlib.error" if "Error -" in str(error) else type(error).__name__
            return bytes(out), f"{kind}: {error}"
        if not part:
            return bytes(out), None
        out += part
        turn += 1


def oracle(data: bytes, sizes: list[int]) -> Outcome:
    return _drain(gzip.GzipFile(fileobj=io.BytesIO(data)).read1, sizes)


def ours(data: bytes, sizes: list[int], chunk: int) -> Outcome:
    return _drain(GzipStream(io.BytesIO(data), chunk=chunk).read1, sizes)


read_sizes = st.lists(st.sampled_from([1, 100, 4096, 65536, 1 << 20]), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(data=streams(), sizes=read_sizes)
def test_with_the_stdlibs_input_steps_everything_is_the_same(data: bytes, sizes: list[int]) -> None:
    # gzip._GzipReader gives inflate io.DEFAULT_BUFFER_SIZE compressed bytes per call.
    assert ours(data, sizes, io.DEFAULT_BUFFER_SIZE) == oracle(data, sizes)


@settings(max_examples=60, deadline=None)
@given(data=streams(), sizes=read_sizes)
def test_with_larger_steps_only_corrupt_deflate_data_can_give_less(
    data: bytes, sizes: list[int]
) -> None:
    got, expected = ours(data, sizes, 64 << 10), oracle(data, sizes)
    if got[1] is not None and got[1].startswith("zlib.error"):
        assert got[1] == expected[1]
        assert expected[0].startswith(got[0])  # the output of one call of inflate less
    else:
        assert got == expected


def test_a_stream_cut_anywhere_hands_over_everything_before_the_cut() -> None:
    whole = _payload(7, 2_000_000)
    packed = gzip.compress(whole)
    for cut in (20, len(packed) // 3, len(packed) - 9, len(packed) - 1):
        out, error = ours(packed[:cut], [1 << 20], 64 << 10)
        assert error is not None
        assert error.startswith("EOFError")
        assert whole.startswith(out)
        assert out == oracle(packed[:cut], [1 << 20])[0]
    assert ours(packed, [1 << 20], 64 << 10) == (whole, None)
    assert zlib.crc32(ours(packed + packed, [4096], 64 << 10)[0]) == zlib.crc32(whole + whole)


def test_without_zlib_ng_the_stdlib_zlib_inflates_alike(tmp_path: Path) -> None:
    whole = _payload(3, 500_000)
    path = tmp_path / "c.gz"
    path.write_bytes(gzip.compress(whole)[:-3])  # cut inside the trailer
    probe = (
        "import sys\n"
        "sys.modules['zlib_ng'] = None  # an install without it\n"
        "from auditor.capture import inflate\n"
        "stream = inflate.GzipStream(open(sys.argv[1], 'rb'))\n"
        "out = b''\n"
        "try:\n"
        "    while part := stream.read1(1 << 16):\n"
        "        out += part\n"
        "except EOFError:\n"
        "    pass\n"
        "sys.stdout.write(f'{inflate._decompressobj.__module__} {len(out)}')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                          text=True, check=True, cwd=ROOT)  # fmt: skip
    assert done.stdout == f"zlib {len(whole)}"
    assert inflate._decompressobj.__module__.startswith("zlib_ng")  # a dependency: installed
