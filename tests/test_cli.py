"""The whole audit through the command line: exit statuses, JSON report, bad input."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.l2 import CookedLinuxV2
from scapy.utils import wrpcap, wrpcapng

from auditor.cli import Environment, main
from fixtures.meeting import Server, meeting_packets, on_ethernet

REPO = Path(__file__).resolve().parent.parent
CLIENT = "192.168.1.23"
US = Server("216.160.83.57", 443, "tcp", 5, name="us.example")  # US, registered GB
SE = Server("89.160.20.113", 8801, "udp", 30)  # Sweden: EU
CN = Server("175.16.199.7", 8801, "udp", 20)  # China
GB = Server("81.2.69.143", 3478, "udp", 4)  # Britain: not EU since 2020
DE6 = Server("2a02:d180::7", 443, "udp", 6)  # Germany over IPv6


@pytest.fixture(scope="session")
def city_db(shared_data: Path) -> str:
    return str(shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb")


def run(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(
        stdout=out, stderr=err, env=env or {}, stdout_isatty=False, stderr_isatty=False
    )
    status = main(list(argv), environment)
    return status, out.getvalue(), err.getvalue()


def audit_json(capture: Path, db: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    status, out, err = run([str(capture), "--db", db, "--format", "json", *extra])
    return status, json.loads(out) if out else {}, err


def write_meeting(path: Path, servers: Sequence[Server], client: str = CLIENT) -> Path:
    frames = on_ethernet(meeting_packets(client, servers, resolver="192.168.1.1"), client)
    if path.suffix == ".pcapng":
        wrpcapng(str(path), frames)
    else:
        wrpcap(str(path), frames)
    return path


def by_ip(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["ip"]: e for e in report["endpoints"]}


def test_all_allowed_exits_0(tmp_path: Path, city_db: str) -> None:
    capture = write_meeting(tmp_path / "ok.pcap", [US, SE, DE6])
    status, report, _ = audit_json(capture, city_db, "--allow", "US,EU")
    assert status == 0
    assert report["schema"] == "auditor.report/1"
    assert report["verdict"] == "pass"
    assert report["complete"] is True
    endpoints = by_ip(report)
    assert endpoints[US.ip]["verdict"] == "allowed"
    assert endpoints[SE.ip]["country"] == "SE"
    assert endpoints["2a02:d180::7"]["country"] == "DE"
    assert endpoints["192.168.1.1"]["verdict"] == "local"
    assert CLIENT not in endpoints


def test_violation_exits_1_and_names_the_country(tmp_path: Path, city_db: str) -> None:
    capture = write_meeting(tmp_path / "cn.pcapng", [US, SE, CN, GB])
    status, report, _ = audit_json(capture, city_db, "--allow", "us,eu")
    assert status == 1
    assert report["verdict"] == "fail"
    endpoints = by_ip(report)
    assert endpoints[CN.ip]["verdict"] == "violation"
    assert endpoints[CN.ip]["country"] == "CN"
    assert endpoints[GB.ip]["verdict"] == "violation"  # GB is not in the EU group
    assert report["summary"]["violations"] == 2
    assert report["policy"]["allow"] == ["US", "EU"]


def test_packets_and_ip_bytes_per_endpoint_are_exact(tmp_path: Path, city_db: str) -> None:
    packets = meeting_packets(CLIENT, [US, SE, CN], resolver="192.168.1.1")
    capture = tmp_path / "exact.pcap"
    wrpcap(str(capture), on_ethernet(packets, CLIENT, vlans=(100, 200)))
    expected: dict[str, list[int]] = {}
    for packet in packets:
        server = packet.dst if packet.src == CLIENT else packet.src
        tally = expected.setdefault(server, [0, 0])
        tally[0] += 1
        tally[1] += len(packet)  # the IP layer: header and payload
    _, report, _ = audit_json(capture, city_db, "--allow", "US,EU")
    got = {ip: [e["packets"], e["bytes"]] for ip, e in by_ip(report).items()}
    assert got == expected


def test_public_client_on_sll2_is_not_a_server(tmp_path: Path, city_db: str) -> None:
    client = "81.2.69.160"  # public, and placed in GB by the database
    packets = meeting_packets(client, [US, SE, CN])
    frames = []
    for packet in packets:
        frame = CookedLinuxV2(proto=0x0800, pkttype=0 if packet.dst == client else 4) / packet
        frame.time = packet.time
        frames.append(frame)
    capture = tmp_path / "sll2.pcap"
    wrpcap(str(capture), frames, linktype=276)
    status, report, _ = audit_json(capture, city_db, "--allow", "US,EU")
    assert client not in by_ip(report)
    assert set(by_ip(report)) == {US.ip, SE.ip, CN.ip}
    assert status == 1


def test_truncated_capture_keeps_findings_and_says_incomplete(
    tmp_path: Path, city_db: str
) -> None:
    whole = write_meeting(tmp_path / "whole.pcap", [CN, US])
    data = whole.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    status, report, err = audit_json(cut, city_db, "--allow", "US,EU")
    assert status == 1  # the violation was read before the damage: 1 beats 2
    assert report["complete"] is False
    assert report["verdict"] == "fail"
    assert report["captures"][0]["warnings"]
    assert str(cut) in err
    assert by_ip(report)[CN.ip]["verdict"] == "violation"


def test_truncated_capture_without_violation_exits_2(tmp_path: Path, city_db: str) -> None:
    whole = write_meeting(tmp_path / "whole.pcap", [US, SE])
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole.read_bytes()[:-30])
    status, report, _ = audit_json(cut, city_db, "--allow", "US,EU")
    assert status == 2
    assert report["verdict"] == "incomplete"
    assert by_ip(report)[US.ip]["verdict"] == "allowed"


def test_not_a_capture_is_one_line_exit_2(tmp_path: Path, city_db: str) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("<html>this is not a capture</html>\n")
    status, _, err = run([str(bogus), "--db", city_db, "--allow", "US"])
    assert status == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("audit: error:")]
    assert len(errors) == 1
    assert str(bogus) in errors[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--allow", "US,XX"], "XX"),
        (["--allow", "US", "--db", "/nonexistent/db.mmdb"], "/nonexistent/db.mmdb"),
        (["--allow", "US", "--bogus-flag"], "--bogus-flag"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, city_db: str, argv: list[str], needle: str) -> None:
    capture = write_meeting(tmp_path / "m.pcap", [US])
    db = [] if "--db" in argv else ["--db", city_db]
    status, _, err = run([str(capture), *db, *argv])
    assert status == 2
    assert needle in err
    assert "Traceback" not in err


def test_corrupt_database_exits_2(tmp_path: Path) -> None:
    capture = write_meeting(tmp_path / "m.pcap", [US])
    db = tmp_path / "broken.mmdb"
    db.write_bytes(b"\x00" * 4096)
    status, _, err = run([str(capture), "--db", str(db), "--allow", "US"])
    assert status == 2
    assert str(db) in err
    assert "Traceback" not in err


def test_exit_zero_and_report_file(tmp_path: Path, city_db: str) -> None:
    capture = write_meeting(tmp_path / "cn.pcap", [CN])
    report_path = tmp_path / "out" / "report.json"
    report_path.parent.mkdir()
    status, out, _ = run(
        [str(capture), "--db", city_db, "--allow", "US", "-o", str(report_path), "--exit-zero"]
    )
    assert status == 0
    assert out == ""
    assert json.loads(report_path.read_text())["verdict"] == "fail"
    assert [p.name for p in report_path.parent.iterdir()] == ["report.json"]


def test_several_captures_in_one_run(tmp_path: Path, city_db: str) -> None:
    first = write_meeting(tmp_path / "a.pcap", [US, SE])
    second = write_meeting(tmp_path / "b.pcapng", [US, CN], client="10.9.8.7")
    status, report, _ = audit_json(first, city_db, str(second), "--allow", "US,EU",
                                   "--workers", "2")
    assert status == 1
    assert [c["path"] for c in report["captures"]] == [str(first), str(second)]
    us = by_ip(report)[US.ip]
    assert us["flows"] == 2


def test_installed_command_audits_the_shipped_demo() -> None:
    audit = shutil.which("audit", path=str(Path(sys.executable).parent))
    assert audit is not None, "the `audit` console script is not installed"
    demo = REPO / "fixtures" / "demo-meeting.pcap"
    proc = subprocess.run(
        [audit, str(demo), "--allow", "US,EU", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    violations = [e for e in report["endpoints"] if e["verdict"] == "violation"]
    assert [(e["ip"], e["country"]) for e in violations] == [("113.96.232.215", "CN")]


def test_judge_by_registration_uses_the_registered_country(tmp_path: Path, city_db: str) -> None:
    capture = write_meeting(tmp_path / "reg.pcap", [US])  # located US, registered GB
    located, report, _ = audit_json(capture, city_db, "--allow", "US")
    assert located == 0
    registered, report, _ = audit_json(capture, city_db, "--allow", "US",
                                       "--judge-by", "registration")
    assert registered == 1
    assert by_ip(report)[US.ip]["verdict"] == "violation"
    both, _, _ = audit_json(capture, city_db, "--allow", "US,GB", "--judge-by", "both")
    assert both == 0


def test_deny_beats_an_allowed_group(tmp_path: Path, city_db: str) -> None:
    capture = write_meeting(tmp_path / "se.pcap", [SE])
    status, report, _ = audit_json(capture, city_db, "--allow", "EU", "--deny", "SE")
    assert status == 1
    assert by_ip(report)[SE.ip]["verdict"] == "violation"


def test_unknown_location_is_never_a_pass(tmp_path: Path, city_db: str) -> None:
    # Fail closed: a server no database places was not judged, so the run is incomplete (2);
    # --strict makes it a violation (1).
    nowhere = Server("198.51.99.1", 443, "tcp", 2)  # public, and in no test database network
    capture = write_meeting(tmp_path / "unknown.pcap", [US, nowhere])
    lenient, report, _ = audit_json(capture, city_db, "--allow", "US", "--max-db-age", "100000")
    assert lenient == 2
    assert report["verdict"] == "incomplete"
    assert by_ip(report)[nowhere.ip]["verdict"] == "unknown"
    assert report["summary"]["unknown"] == 1
    strict, report, _ = audit_json(capture, city_db, "--allow", "US", "--strict",
                                   "--max-db-age", "100000")
    assert strict == 1
    assert by_ip(report)[nowhere.ip]["verdict"] == "violation"


def test_stale_database_warns_and_fails_under_strict(tmp_path: Path, city_db: str) -> None:
    capture = write_meeting(tmp_path / "m.pcap", [US])
    status, _, err = audit_json(capture, city_db, "--allow", "US", "--max-db-age", "1")
    assert status == 0
    assert "days old" in err
    status, report, _ = audit_json(capture, city_db, "--allow", "US", "--max-db-age", "1",
                                   "--strict")
    assert status == 1
    assert report["verdict"] == "fail"


def test_policy_file(tmp_path: Path, city_db: str) -> None:
    capture = write_meeting(tmp_path / "m.pcap", [US, CN])
    policy = tmp_path / "policy.toml"
    policy.write_text('allow = ["US", "CN"]\n')
    status, _, _ = audit_json(capture, city_db, "--policy", str(policy))
    assert status == 0
    policy.write_text('allow = ["US"]\ndeny = ["CN"]\n')
    status, _, _ = audit_json(capture, city_db, "--policy", str(policy))
    assert status == 1


@pytest.mark.parametrize(
    ("suffix", "marker"),
    [(".json", '"schema"'), (".csv", "ip,"), (".xml", "<testsuite"), (".sarif", '"2.1.0"'),
     (".html", "<!DOCTYPE html>")],
)
def test_report_format_follows_the_output_extension(
    tmp_path: Path, city_db: str, suffix: str, marker: str
) -> None:
    capture = write_meeting(tmp_path / "m.pcap", [US])
    report = tmp_path / f"report{suffix}"
    status, _, _ = run([str(capture), "--db", city_db, "--allow", "US", "-o", str(report)])
    assert status == 0
    assert marker in report.read_text()


def test_db_info_lists_the_database(city_db: str) -> None:
    status, out, _ = run(["db", "info", "--db", city_db])
    assert status == 0
    assert "GeoIP2-City" in out


def test_names_from_dns_and_sni_reach_the_report(tmp_path: Path, city_db: str) -> None:
    zoom = Server("216.160.83.58", 443, "tcp", 3, name="us04web.zoom.us")
    capture = write_meeting(tmp_path / "names.pcapng", [zoom, SE])
    _, report, _ = audit_json(capture, city_db, "--allow", "US,EU")
    endpoints = by_ip(report)
    assert endpoints[zoom.ip]["hostnames"] == ["us04web.zoom.us"]
    assert endpoints[zoom.ip]["platform"] == "Zoom"
    assert endpoints[SE.ip]["hostnames"] == []


MEETINGS = [
    "discord.pcap", "google_meet.pcapng", "rtp.pcapng", "skype-conference-call.pcap",
    "stun_dtls_rtp.pcapng", "stun_google_meet.pcapng", "stun_msteams_unidir.pcapng",
    "stun_wa_call.pcapng", "stun_zoom.pcapng", "teams.pcap", "telegram_videocall.pcapng",
    "webex.pcap", "wechat.pcap", "zeek_sip_wireshark.pcap", "zeek_webrtc-stun.pcap",
    "zoom.pcap", "zoom2.pcap", "zoom_p2p.pcapng", "zoomanalysis_zoom_test.pcap",
]


def bundled() -> list[str]:
    """--db for each bundled file: a GeoIP folder on the test machine must not change results."""
    from auditor.geo.bundled import bundled_databases

    return [arg for path in bundled_databases() for arg in ("--db", path)]


@pytest.mark.parametrize("name", MEETINGS)
def test_real_meetings_with_the_bundled_database(shared_data: Path, name: str) -> None:
    capture = shared_data / "pcaps" / "meetings" / name
    status, out, err = run([str(capture), *bundled(), "--allow", "US,EU", "--format", "json"])
    report = json.loads(out)
    assert report["complete"] is True
    public = [e for e in report["endpoints"] if e["verdict"] != "local"]
    assert public
    assert [e["ip"] for e in public if e["country"] is None] == []
    violations = {e["ip"] for e in public if e["verdict"] == "violation"}
    unknown = {e["ip"] for e in public if e["verdict"] == "unknown"}
    # Fail closed: a violation is 1; an endpoint left unknown (e.g. disputed) is never a pass.
    assert status == (1 if violations else 2 if unknown else 0), err


def test_wechat_relays_in_china_are_named_and_flagged(shared_data: Path) -> None:
    capture = shared_data / "pcaps" / "meetings" / "wechat.pcap"
    _, out, _ = run([str(capture), *bundled(), "--allow", "US,EU", "--format", "json"])
    endpoint = by_ip(json.loads(out))["203.205.147.171"]
    assert (endpoint["verdict"], endpoint["country"]) == ("violation", "CN")
    # The capture's answer: web.wechat.com CNAME web1.wechat.com A 203.205.147.171 (tshark).
    assert endpoint["hostnames"] == ["web.wechat.com", "web1.wechat.com"]
    assert endpoint["platform"] == "WeChat"


def test_history_keeps_one_line_per_run_failures_included(tmp_path: Path, city_db: str) -> None:
    history = tmp_path / "history.jsonl"
    clean_capture = write_meeting(tmp_path / "monday.pcap", [US, SE])
    bad_capture = write_meeting(tmp_path / "tuesday.pcap", [CN])
    for capture in (clean_capture, bad_capture):
        run([str(capture), "--db", city_db, "--allow", "US,EU", "--history", str(history),
             "-o", str(tmp_path / "report.json")])
    broken_db = tmp_path / "broken.mmdb"
    broken_db.write_bytes(b"not a database")
    status, _, _ = run([str(clean_capture), "--db", str(broken_db), "--allow", "US",
                        "--history", str(history)])
    assert status == 2
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert [(h["verdict"], h["exit_status"]) for h in lines] == [
        ("pass", 0), ("fail", 1), ("error", 2)
    ]
    assert lines[1]["attention"] == [
        # No name, no published range, no ASN: only its port hints at a platform, and says so.
        {"ip": CN.ip, "verdict": "violation", "country": "CN", "hostnames": [],
         "platform": "Zoom? (port hint)"}
    ]
    assert lines[1]["captures"] == [str(bad_capture)]
    assert str(broken_db) in lines[2]["errors"][0]


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_must_be_a_positive_number(tmp_path: Path, city_db: str, workers: str) -> None:
    capture = write_meeting(tmp_path / "m.pcap", [US])
    status, _, err = run([str(capture), "--db", city_db, "--allow", "US", "--workers", workers])
    assert status == 2
    assert "--workers" in err


def test_live_without_a_stop_condition_is_a_usage_error() -> None:
    status, _, err = run(["live", "-i", "lo", "--allow", "US"])
    assert status == 2
    assert "--duration" in err
    assert "capturing" not in err


def test_unreadable_only_capture_gives_no_table_but_a_machine_report(
    tmp_path: Path, city_db: str
) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("not a capture\n")
    status, out, err = run([str(bogus), "--db", city_db, "--allow", "US"])
    assert (status, out) == (2, "")
    assert str(bogus) in err
    report = tmp_path / "report.json"
    status, out, _ = run([str(bogus), "--db", city_db, "--allow", "US", "-o", str(report)])
    assert (status, out) == (2, "")
    document = json.loads(report.read_text())
    assert document["verdict"] == "incomplete"
    assert str(bogus) in document["errors"][0]


def test_one_unreadable_capture_in_a_batch_still_reports_the_others(
    tmp_path: Path, city_db: str
) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("not a capture\n")
    good = write_meeting(tmp_path / "good.pcap", [US])
    status, report, err = audit_json(good, city_db, str(bogus), "--allow", "US")
    assert status == 2
    assert report["verdict"] == "incomplete"
    assert [c["path"] for c in report["captures"]] == [str(good)]
    assert str(bogus) in report["errors"][0]
    assert str(bogus) in err


def test_capture_from_standard_input() -> None:
    demo = REPO / "fixtures" / "demo-meeting.pcapng"
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "-", "--allow", "US,EU", "--format", "json"],
        input=demo.read_bytes(), capture_output=True, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["captures"][0]["packets"] == 1636


def test_live_on_an_unknown_interface_lists_the_ones_there(tmp_path: Path, city_db: str) -> None:
    precious = tmp_path / "precious.pcap"
    precious.write_bytes(b"evidence")
    status, out, err = run(["live", "-i", "nosuch0", "--duration", "1", "-w", str(precious),
                            "--db", city_db, "--allow", "EU"])
    assert status == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("audit: error: nosuch0: no such network interface (there are: ")
    assert "lo" in line.split("there are: ")[1].rstrip(")").split(", ")
    assert precious.read_bytes() == b"evidence"
    assert [p.name for p in tmp_path.iterdir()] == ["precious.pcap"]


def test_live_refuses_to_replace_a_fifo_with_its_capture(tmp_path: Path, city_db: str) -> None:
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    status, _, err = run(["live", "-i", "lo", "--duration", "1", "-w", str(fifo), "--db",
                          city_db, "--allow", "EU"])
    assert status == 2
    assert err.splitlines() == [f"audit: error: {fifo}: not a regular file; a live capture is "
                                "kept in a file"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def _on_a_terminal(argv: Sequence[str], env: dict[str, str]) -> str:
    out = io.StringIO()
    environment = Environment(stdout=out, stderr=io.StringIO(), env=env, stdout_isatty=True,
                              stderr_isatty=False)
    main(list(argv), environment)
    return out.getvalue()


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {}, {"TERM": "xterm-256color"}])
def test_a_table_into_a_pipe_or_a_file_has_no_colour(tmp_path: Path, city_db: str,
                                                     env: dict[str, str]) -> None:
    capture = write_meeting(tmp_path / "cn.pcap", [US, CN])
    argv = [str(capture), "--db", city_db, "--allow", "US", "-f", "table"]
    _, piped, _ = run(argv, env=env)
    report = tmp_path / "report.txt"
    run([*argv, "-o", str(report)], env=env)
    for text in (piped, report.read_text()):
        assert "╰" in text  # the table's summary panel
        assert "\x1b[" not in text


def test_no_color_on_a_terminal_drops_the_colour_and_keeps_the_table(tmp_path: Path,
                                                                      city_db: str) -> None:
    capture = write_meeting(tmp_path / "cn.pcap", [US, CN])
    argv = [str(capture), "--db", city_db, "--allow", "US"]
    plain = _on_a_terminal(argv, {"NO_COLOR": "1", "TERM": "xterm-256color"})
    coloured = _on_a_terminal(argv, {"TERM": "xterm-256color"})
    assert "╰" in plain
    assert "\x1b[" not in plain
    assert "╰" in coloured
    assert "\x1b[" in coloured  # colour is only what NO_COLOR takes away
