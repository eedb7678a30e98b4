"""`audit collect`: receive NetFlow/IPFIX export over UDP for a while, into a file to audit.

As `audit live` keeps a pcap, the collector keeps every datagram it received (the evidence
behind the findings) in a flow export file, which the audit then reads like any other input.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from auditor.errors import CaptureError, UsageError
from auditor.sources.export import MAGIC, write_frame

RECEIVE_BUFFER = 8 << 20  # a burst from a router's export must not be dropped by the kernel
MAX_DATAGRAM = 65535
POLL = 0.2  # seconds between checks of the stop condition


@dataclass(frozen=True, slots=True)
class Collected:
    path: str
    datagrams: int
    listen: tuple[str, int]  # the address actually bound (the port, when 0 was asked for)


def ready_line(bound: tuple[str, int], duration: float) -> str:
    host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    return f"listening on {host}:{bound[1]}/udp for {duration:g} s"


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:2055', '[::1]:2055' or ':2055' (all IPv4 addresses) -> (host, port)."""
    host, separator, port_text = text.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - the user asked for all addresses
    try:
        port = int(port_text)
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--listen wants ADDRESS:PORT, not {text!r}") from None
    if not separator or not 0 <= port <= 65535:
        raise UsageError(f"--listen wants ADDRESS:PORT, not {text!r}")
    return host, port


def collect(
    listen: tuple[str, int],
    output: Path,
    *,
    duration: float,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Collected:
    """Receive export datagrams on ``listen`` for ``duration`` seconds (or until ``stop``).

    ``on_ready`` is called once the socket is bound, with the address bound: an exporter
    started after it loses nothing. Datagrams already queued when time is up are kept.
    """
    family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        try:
            sock.bind(listen)
        except OSError as error:
            raise CaptureError(f"{listen[0]}:{listen[1]}", f"cannot listen: "
                               f"{error.strerror or error}") from error
        bound = sock.getsockname()[:2]
        try:
            stream = output.open("wb")
        except OSError as error:
            raise CaptureError(str(output), f"cannot write: {error.strerror}") from error
        with stream:
            stream.write(MAGIC)
            if on_ready is not None:
                on_ready(bound)
            count = _receive(sock, stream, clock() + duration, stop, clock)
    finally:
        sock.close()
    return Collected(str(output), count, bound)


def _receive(
    sock: socket.socket,
    stream: BinaryIO,
    deadline: float,
    stop: threading.Event | None,
    clock: Callable[[], float],
) -> int:
    count = 0
    while True:
        left = deadline - clock()
        done = left <= 0 or (stop is not None and stop.is_set())
        # Once done, drain what the kernel already holds without waiting for more.
        ready, _, _ = select.select([sock], [], [], 0 if done else min(left, POLL))
        if not ready:
            if done:
                return count
            continue
        data, sender = sock.recvfrom(MAX_DATAGRAM)
        write_frame(stream, data, sender[:2], time.time())
        count += 1
