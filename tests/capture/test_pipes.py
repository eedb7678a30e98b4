"""Captures read from a pipe (tcpdump -w - | audit -): no seeking back, no size known."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import pytest

from auditor.capture import read_capture

DEMO = Path(__file__).resolve().parents[2] / "fixtures"


def _through_fifo(tmp_path: Path, data: bytes) -> Path:
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as writer:
            writer.write(data)

    threading.Thread(target=feed, daemon=True).start()
    return fifo


@pytest.mark.parametrize("name", ["demo-meeting.pcap", "demo-meeting.pcapng"])
@pytest.mark.parametrize("compress", [False, True])
def test_a_pipe_reads_like_the_file(tmp_path: Path, name: str, compress: bool) -> None:
    data = (DEMO / name).read_bytes()
    from_file = read_capture(DEMO / name)
    piped = read_capture(_through_fifo(tmp_path, gzip.compress(data) if compress else data),
                         workers=2)
    assert piped.flows == from_file.flows
    assert piped.names == from_file.names
    assert piped.summary.packets == from_file.summary.packets
    assert piped.summary.complete
    assert piped.summary.compressed is compress
