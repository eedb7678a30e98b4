"""Runs the real exporter, softflowd, against the collector on the loopback address."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from auditor.sources.collect import collect


def softflowd() -> str:
    path = shutil.which("softflowd")
    if path is None:
        pytest.skip("softflowd is not installed (.ci/run installs it)")
    return path


def export(pcap: Path, version: str, folder: Path, *extra: str) -> Path:
    """The flow export softflowd makes of ``pcap``, as `audit collect` keeps it.

    The collector signals once its socket is bound; softflowd starts only then. softflowd
    with -r exits after its last export, and loopback UDP is queued by the time send returns:
    the collector is then stopped, and drains what is queued.
    """
    binary = softflowd()
    target = folder / f"{pcap.stem}-v{version}{''.join(extra)}.flows"
    bound: list[tuple[str, int]] = []
    ready, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def on_ready(address: tuple[str, int]) -> None:
        bound.append(address)
        ready.set()

    def run() -> None:
        try:
            collect(("127.0.0.1", 0), target, duration=120, on_ready=on_ready, stop=stop)
        except BaseException as error:  # reported by the test thread
            errors.append(error)
            ready.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert ready.wait(30), "the collector did not bind"
        assert not errors, errors
        replay(binary, pcap, bound[0][1], version, *extra)
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors
    return target


@contextmanager
def _short_folder() -> Iterator[Path]:
    # softflowd writes a pid file: into a folder of its own.
    with tempfile.TemporaryDirectory(prefix="sfd", dir="/tmp") as folder:
        yield Path(folder)


def replay(binary: str, pcap: Path, port: int, version: str, *extra: str) -> None:
    """softflowd reads ``pcap`` and exports every flow to 127.0.0.1:``port``, then exits."""
    with _short_folder() as folder:
        subprocess.run(
            # -c none: no control socket. With one, softflowd at times blocks in accept() after
            # the end of the file instead of exiting (seen when run under pytest).
            [binary, "-r", str(pcap), "-n", f"127.0.0.1:{port}", "-v", version, "-d",
             "-p", str(folder / "pid"), "-c", "none", *extra],
            check=True, capture_output=True, timeout=60,
        )
