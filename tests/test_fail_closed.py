"""A PASS claims every server was judged: padding, full tables and empty captures fail closed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.capture import read_capture
from auditor.cli import Environment, main
from bench.shapes import CN_RELAY, PCAP_HEADER, US_SERVER, padding_records, write_pcap
from tests.capture.makecap import ether, ipv4, pcap_file, udp

PADDING = 60  # one-packet flows to the allowed server before the relay; the cap is lowered below
CAP = 50


@pytest.fixture
def city_db(shared_data: Path) -> str:
    return str(shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb")


@pytest.fixture
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production bounds, lowered so that a few dozen flows fill the flow table."""
    monkeypatch.setattr("auditor.capture.limits.MAX_FLOWS", CAP)
    # Lets a small file be split over two workers.
    monkeypatch.setattr("auditor.capture.PARALLEL_MIN_BYTES", 0)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, env={}, stdout_isatty=False, stderr_isatty=False)
    return main(list(argv), env), out.getvalue(), err.getvalue()


def audit_json(path: Path, db: str, *extra: str) -> tuple[int, dict[str, Any]]:
    status, out, _err = run(str(path), "--db", db, "--allow", "US,EU", "-f", "json", *extra)
    return status, json.loads(out)


def padded(tmp_path: Path, *, compress: bool) -> Path:
    name = "padded.pcap.gz" if compress else "padded.pcap"
    return write_pcap(tmp_path / name, padding_records(PADDING, 20), compress=compress)


@pytest.mark.usefixtures("small_tables")
@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_padding_past_the_flow_table_does_not_hide_a_relay(
    tmp_path: Path, city_db: str, workers: str, compress: bool
) -> None:
    status, report = audit_json(padded(tmp_path, compress=compress), city_db, "--workers", workers)
    assert status == 1
    endpoints = {e["ip"]: e for e in report["endpoints"]}
    assert endpoints[CN_RELAY]["verdict"] == "violation"
    assert endpoints[CN_RELAY]["packets"] == 20
    assert endpoints[US_SERVER]["packets"] == PADDING
    (capture,) = report["captures"]
    assert capture["complete"] is True
    assert capture["unjudged_packets"] == 0
    assert any("counted per address pair" in w for w in capture["warnings"])


@pytest.mark.usefixtures("small_tables")
def test_spilled_reads_agree_between_one_and_two_workers(tmp_path: Path) -> None:
    path = padded(tmp_path, compress=False)
    one = read_capture(path)
    assert read_capture(path, workers=2) == one
    assert one.summary.ip_packets == PADDING + 20


@pytest.mark.usefixtures("small_tables")
@pytest.mark.parametrize("quiet", [[], ["-q"]])
@pytest.mark.parametrize("fmt", ["json", "text", "table", "csv", "junit", "sarif", "html"])
def test_full_pair_table_makes_the_run_incomplete(
    tmp_path: Path, city_db: str, monkeypatch: pytest.MonkeyPatch, fmt: str, quiet: list[str]
) -> None:
    """Padding that varies the client address too fills the address-pair table as well: the
    relay is then never judged, and no format may call that a pass."""
    monkeypatch.setattr("auditor.capture.limits.MAX_PAIRS", 3)
    frames = [
        ether(ipv4(f"10.0.{i // 250}.{i % 250 + 1}", US_SERVER, 17, udp(5000, 8801, b"p")))
        for i in range(CAP + 3)
    ]
    relay = ether(ipv4("10.9.9.9", CN_RELAY, 17, udp(5000, 8801, b"r" * 10)))
    path = tmp_path / "full.pcap"
    path.write_bytes(pcap_file([(1.0, f) for f in [*frames, relay, relay, relay]]))
    status, out, _err = run(str(path), "--db", city_db, "--allow", "US,EU", "-f", fmt, *quiet)
    assert status == 2
    assert "incomplete" in out.lower()
    assert "3 packets went unjudged" in out
    if fmt == "json":
        (capture,) = json.loads(out)["captures"]
        # The relay and its client appear in no counted flow; the US server does.
        assert (capture["unjudged_packets"], capture["unjudged_addresses"]) == (3, 2)


@pytest.mark.parametrize("fmt", ["json", "text", "table", "csv", "junit", "sarif", "html"])
def test_header_only_capture_is_incomplete(tmp_path: Path, city_db: str, fmt: str) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(PCAP_HEADER)
    status, out, _err = run(str(path), "--db", city_db, "--allow", "US", "-f", fmt, "-q")
    assert status == 2
    assert "incomplete" in out.lower()
    assert "no IP packet in any capture" in out
    if fmt == "json":
        report = json.loads(out)
        assert (report["verdict"], report["complete"]) == ("incomplete", False)


@pytest.mark.parametrize("fmt", ["json", "text", "table", "csv", "junit", "sarif", "html"])
def test_only_local_traffic_is_warned_about(tmp_path: Path, city_db: str, fmt: str) -> None:
    frame = ether(ipv4("192.168.1.23", "192.168.1.1", 17, udp(5000, 53, b"q")))
    path = tmp_path / "local.pcap"
    path.write_bytes(pcap_file([(1.0, frame)]))
    status, out, _err = run(str(path), "--db", city_db, "--allow", "US", "-f", fmt, "-q")
    assert status == 0  # nothing outside the policy, and the capture was read whole
    assert "no public server endpoint: only local traffic was seen" in out
