"""Live capture end to end, between two network namespaces made for the test (needs root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SE_SERVER = "89.160.20.113"  # placed in Sweden by MaxMind's City test database
CN_SERVER = "175.16.199.7"  # placed in China
CLIENT = "10.203.0.1"

# The sender runs inside the client namespace; the addresses exist only on the veth pair below.
SENDER = f"""
import socket, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 4.0
while time.monotonic() < end:
    for server in ("{SE_SERVER}", "{CN_SERVER}"):
        sock.sendto(b"media" * 40, (server, 8801))
    time.sleep(0.05)
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    client, server = f"auditor-c{os.getpid()}", f"auditor-s{os.getpid()}"
    _ip("netns", "add", client)
    _ip("netns", "add", server)
    try:
        _ip("link", "add", "veth-c", "netns", client, "type", "veth", "peer", "name", "veth-s",
            "netns", server)
        for namespace, link in ((client, "veth-c"), (server, "veth-s")):
            _ip("-n", namespace, "link", "set", "lo", "up")
            _ip("-n", namespace, "link", "set", link, "up")  # before routes: they need it up
        _ip("-n", client, "addr", "add", f"{CLIENT}/24", "dev", "veth-c")
        for address in (SE_SERVER, CN_SERVER):
            _ip("-n", server, "addr", "add", f"{address}/32", "dev", "veth-s")
            _ip("-n", client, "route", "add", f"{address}/32", "dev", "veth-c")
        _ip("-n", server, "route", "add", f"{CLIENT}/32", "dev", "veth-s")
        yield client, server
    finally:
        _ip("netns", "del", client)
        _ip("netns", "del", server)


def test_live_capture_is_audited(
    namespaces: tuple[str, str], tmp_path: Path, shared_data: Path
) -> None:
    client, _ = namespaces
    db = shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb"
    saved = tmp_path / "live.pcap"
    audit = subprocess.Popen(
        ["ip", "netns", "exec", client, sys.executable, "-m", "auditor", "live",
         "-i", "veth-c", "--duration", "6", "-w", str(saved), "--db", str(db),
         "--allow", "EU", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(1.5)  # scapy's import and socket setup, before the first packet
    subprocess.run(["ip", "netns", "exec", client, sys.executable, "-c", SENDER],
                   check=True, timeout=30)
    out, err = audit.communicate(timeout=60)
    assert audit.returncode == 1, err
    report = json.loads(out)
    endpoints = {e["ip"]: e for e in report["endpoints"]}
    assert endpoints[SE_SERVER]["verdict"] == "allowed"
    assert endpoints[CN_SERVER]["verdict"] == "violation"
    assert CLIENT not in endpoints
    assert endpoints[CN_SERVER]["packets"] >= 5  # the sniffer may start late on a busy machine
    assert "8801/udp" in endpoints[CN_SERVER]["ports"]
    # The saved evidence holds exactly what was audited.
    assert saved.stat().st_size > 24
    assert report["captures"][0]["path"] == str(saved)
