"""nfcapd files (what nfdump's collector writes), read through nfdump itself.

nfdump is the well-kept reader of its own format (compressed blocks, several layouts); its
JSON output is turned into the same one-directional flow records as export packets, and paired
the same way. nfdump is run with TZ=UTC: it prints times without a zone, in local time.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Final

from auditor.errors import CaptureError
from auditor.model import CaptureResult, SourceKind
from auditor.sources.export import LIMITS, Pairs
from auditor.sources.flows import address
from auditor.sources.netflow import FlowRecord

MAGIC: Final = b"\x0c\xa5"  # 0xA50C, little-endian, then the layout version (1 or 2)
MAX_RECORD: Final = 64 << 10  # one JSON record as nfdump prints it: well under a kilobyte
_FLAGS: Final = {"C": 0x80, "E": 0x40, "U": 0x20, "A": 0x10, "P": 0x08, "R": 0x04,
                 "S": 0x02, "F": 0x01}


def is_nfcapd_head(head: bytes) -> bool:
    return head[:2] == MAGIC and head[2:4] in (b"\x01\x00", b"\x02\x00")


def read_nfcapd(path: str) -> CaptureResult:
    binary = shutil.which("nfdump")
    if binary is None:
        raise CaptureError(path, "an nfcapd file: reading it needs nfdump (apt install nfdump)")
    pairs = Pairs()
    env = {**os.environ, "TZ": "UTC"}
    with subprocess.Popen(
        [binary, "-r", path, "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, text=True, encoding="utf-8", errors="replace",
    ) as nfdump:
        out, err = nfdump.stdout, nfdump.stderr
        if out is None or err is None:  # both were asked for as pipes: never
            raise CaptureError(path, "nfdump gave no output")
        for record in _records(out):
            flow = _flow_record(record)
            if flow is not None:
                pairs.add(flow)
        complaint = err.read(4096).strip()
    builder = pairs.builder()
    if complaint:
        first = complaint.splitlines()[0]
        if not pairs.records:
            raise CaptureError(path, f"nfdump cannot read it: {first}")
        builder.warnings.append(f"nfdump stopped early: {first}")
    limits = ("flow export (an nfcapd file, read with nfdump)", *LIMITS)
    return builder.result(path, SourceKind.NETFLOW, compressed=False,
                          complete=not complaint, limits=limits)


def _records(stream: IO[str]) -> Iterator[dict[str, object]]:
    """nfdump prints one JSON array, an object per record across lines: read them one by one."""
    lines: list[str] = []
    size = 0
    for line in stream:
        text = line.strip()
        if text == "{":
            lines, size = [text], len(text)
            continue
        if not lines:
            continue
        size += len(text)
        if size > MAX_RECORD:
            lines = []
            continue
        if text.startswith("}"):
            lines.append("}")
            try:
                value = json.loads("".join(lines))
            except ValueError:
                value = None
            lines = []
            if isinstance(value, dict):
                yield value
            continue
        lines.append(text)


def _flow_record(record: dict[str, object]) -> FlowRecord | None:
    if record.get("type") != "FLOW":
        return None
    src = _address(record, "src4_addr") or _address(record, "src6_addr")
    dst = _address(record, "dst4_addr") or _address(record, "dst6_addr")
    if src is None or dst is None:
        return None
    return FlowRecord(
        version=0,
        protocol=_count(record, "proto") & 0xFF,
        src=src,
        src_port=_count(record, "src_port") & 0xFFFF,
        dst=dst,
        dst_port=_count(record, "dst_port") & 0xFFFF,
        packets=_count(record, "in_packets"),
        bytes=_count(record, "in_bytes"),
        first=_time(record.get("first")),
        last=_time(record.get("last")),
        tcp_flags=_flags(record.get("tcp_flags")),
        # NSEL and biflow records count the other direction too.
        reverse_packets=_count(record, "out_packets"),
        reverse_bytes=_count(record, "out_bytes"),
    )


def _address(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    return address(value) if isinstance(value, str) else None


def _count(record: dict[str, object], key: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(value, 0)


def _time(value: object) -> float:
    if not isinstance(value, str):
        return math.nan
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    except (ValueError, OverflowError, OSError):
        return math.nan


def _flags(value: object) -> int:
    if not isinstance(value, str):
        return 0
    return sum(bit for letter, bit in _FLAGS.items() if letter in value.upper())
