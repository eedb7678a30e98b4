"""Live capture end to end, between two network namespaces made for the test (needs root)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
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


def _live(client: str, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", client, sys.executable, "-m", "auditor", "live",
         "-i", "veth-c", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_until_capturing(audit: subprocess.Popen[str]) -> list[str]:
    """The stderr lines up to the one that says the sniffer listens: the readiness signal."""
    assert audit.stderr is not None
    seen = []
    for line in audit.stderr:  # ends at EOF if the audit dies first
        seen.append(line)
        if line.startswith("audit: capturing on veth-c"):
            return seen
    pytest.fail(f"the live capture never started: {''.join(seen)}")


def _listening(pid: int) -> bool:
    """Whether the process holds an AF_PACKET socket: the sniffer is really listening."""
    proc = Path(f"/proc/{pid}")
    packet_sockets = {line.split()[-1] for line in (proc / "net" / "packet").read_text()
                      .splitlines()[1:]}
    held = set()
    for fd in (proc / "fd").iterdir():
        with contextlib.suppress(OSError):
            held.add(os.readlink(fd).removeprefix("socket:[").removesuffix("]"))
    return bool(packet_sockets & held)


def test_live_capture_is_audited(
    namespaces: tuple[str, str], tmp_path: Path, shared_data: Path
) -> None:
    client, _ = namespaces
    db = shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb"
    saved = tmp_path / "live.pcap"
    audit = _live(client, "--duration", "6", "-w", saved, "--db", db, "--allow", "EU",
                  "--format", "json")
    _wait_until_capturing(audit)
    subprocess.run(["ip", "netns", "exec", client, sys.executable, "-c", SENDER],
                   check=True, timeout=30)
    out, err = audit.communicate(timeout=60)
    assert audit.returncode == 1, err
    report = json.loads(out)
    endpoints = {e["ip"]: e for e in report["endpoints"]}
    assert endpoints[SE_SERVER]["verdict"] == "allowed"
    assert endpoints[CN_SERVER]["verdict"] == "violation"
    assert CLIENT not in endpoints
    assert endpoints[CN_SERVER]["packets"] >= 5  # the sender ran while the sniffer listened
    assert "8801/udp" in endpoints[CN_SERVER]["ports"]
    # The saved evidence holds exactly what was audited.
    assert saved.stat().st_size > 24
    assert report["captures"][0]["path"] == str(saved)
    assert [p.name for p in tmp_path.iterdir()] == ["live.pcap"]


def test_sigint_exits_130_with_no_report_and_keeps_the_saved_file(
    namespaces: tuple[str, str], tmp_path: Path, shared_data: Path
) -> None:
    client, _ = namespaces
    db = shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb"
    precious = tmp_path / "precious.pcap"
    precious.write_bytes(b"evidence from an earlier meeting")
    audit = _live(client, "--duration", "60", "-w", precious, "--db", db, "--allow", "EU",
                  "--format", "json")
    _wait_until_capturing(audit)
    deadline = time.monotonic() + 60
    while not _listening(audit.pid):  # ip netns exec execs python: the same pid
        assert audit.poll() is None, "the audit ended before its sniffer listened"
        assert time.monotonic() < deadline, "the sniffer never listened"
        time.sleep(0.01)
    audit.send_signal(signal.SIGINT)
    out, err = audit.communicate(timeout=60)
    assert audit.returncode == 130, err
    assert out == ""
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "audit: error: interrupted; no report written"
    assert precious.read_bytes() == b"evidence from an earlier meeting"
    assert [p.name for p in tmp_path.iterdir()] == ["precious.pcap"]


def test_quiet_silences_scapy_too(
    namespaces: tuple[str, str], tmp_path: Path, shared_data: Path
) -> None:
    """With -q nothing says when the sniffer listens: the sender runs until the capture stops."""
    client, _ = namespaces
    db = shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb"
    audit = _live(client, "--count", "20", "--db", db, "--allow", "EU", "-q", "-f", "json")
    sender = subprocess.Popen(["ip", "netns", "exec", client, sys.executable, "-c",
                               SENDER.replace("4.0", "60.0")])
    try:
        out, err = audit.communicate(timeout=90)
    finally:
        sender.kill()
        sender.wait()
    assert audit.returncode == 1, err
    assert err == ""
    assert CN_SERVER in {e["ip"] for e in json.loads(out)["endpoints"]}
