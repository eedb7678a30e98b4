"""Zeek logs against the packet captures they were made from (zeek's own btest baselines).

fixtures/zeek/ holds traces and the logs Zeek wrote for them in its test suite (see SOURCE).
The baselines mask their timestamps (XXXXXXXXXX.XXXXXX): those rows keep their counts and get
no time, so times are left out of the comparisons.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
from pathlib import Path

import pytest

from auditor.endpoints import server_endpoints
from auditor.errors import CaptureError
from auditor.model import NameSighting, NameSource, SourceKind
from auditor.report import get_format
from auditor.sources import read_source, sniff
from tests.sources.util import audit, facts, verdicts

ZEEK = Path(__file__).resolve().parents[2] / "fixtures" / "zeek"
WIKIPEDIA = ZEEK / "wikipedia"
GRE = ZEEK / "gre"


def test_conn_log_gives_the_pcaps_endpoints_and_verdicts_exactly() -> None:
    from_pcap = facts(audit(WIKIPEDIA / "wikipedia.pcap"))
    from_log = facts(audit(WIKIPEDIA / "conn.log"))
    assert len(from_pcap) == 10
    # Packets, IP bytes, flows, server reasons and DNS names: all equal, not only the verdicts.
    # The pcap also names servers by the Host of plain-HTTP requests (http.log is not read).
    assert {ip: f[:-1] for ip, f in from_log.items()} == {ip: f[:-1] for ip, f in from_pcap.items()}
    for ip, fact in from_log.items():
        assert set(fact[-1]) <= set(from_pcap[ip][-1])  # type: ignore[call-overload]


def test_names_come_from_dns_log_beside_conn_log() -> None:
    result = read_source(WIKIPEDIA / "conn.log")
    assert NameSighting("208.80.152.3", "upload.wikimedia.org", NameSource.DNS) in result.names
    assert result.summary.format == SourceKind.ZEEK
    assert result.summary.complete
    assert any("no frame numbers" in limit for limit in result.summary.limits)


def test_tunnel_endpoint_from_tunnel_log_carries_the_inner_packets() -> None:
    pcap = audit(GRE / "gre-sample.pcap")
    log = audit(GRE / "conn.log")
    (outer,) = [f for f in pcap.findings if "47" in f.endpoint.protocols[0]]
    tunnel = next(f for f in log.findings if f.endpoint.ip == outer.endpoint.ip)
    assert tunnel.judgement.verdict == outer.judgement.verdict
    assert tunnel.endpoint.packets == outer.endpoint.packets == 40
    # Zeek logs the inner IP bytes only: the pcap adds 24 bytes of outer IPv4 + GRE per packet.
    assert outer.endpoint.bytes - tunnel.endpoint.bytes == 24 * 40
    # Both decapsulate: the inner servers are endpoints of both, the same verdicts.
    inner = {"129.170.17.4", "18.26.4.105", "66.59.111.182", "172.28.2.3"}
    assert set(verdicts(log)) - set(verdicts(pcap)) == set()
    assert {ip: v for ip, v in verdicts(pcap).items() if ip in inner} == {
        ip: v for ip, v in verdicts(log).items() if ip in inner
    }
    assert len(inner & set(verdicts(pcap))) == len(inner)


def test_tunnelled_connections_without_tunnel_log_are_incomplete(tmp_path: Path) -> None:
    shutil.copy(GRE / "conn.log", tmp_path / "conn.log")
    result = read_source(tmp_path / "conn.log")
    assert not result.summary.complete
    assert any("tunnel endpoints cannot be judged" in w for w in result.summary.warnings)


def _as_json_lines(tsv: Path, target: Path) -> Path:
    """The same rows as Zeek's JSON writer spells them (numbers as numbers, vectors as lists)."""
    lines = tsv.read_text().splitlines()
    fields = next(line for line in lines if line.startswith("#fields")).split("\t")[1:]
    types = next(line for line in lines if line.startswith("#types")).split("\t")[1:]
    out = []
    for line in lines:
        if line.startswith("#"):
            continue
        row: dict[str, object] = {}
        for name, kind, value in zip(fields, types, line.split("\t"), strict=True):
            if value == "-":
                continue
            if kind.startswith(("vector", "set")):
                row[name] = value.split(",")
            elif kind in ("count", "port"):
                row[name] = int(value)
            elif kind == "interval":
                row[name] = float(value)
            else:
                row[name] = value
        out.append(json.dumps(row))
    target.write_text("\n".join(out) + "\n")
    return target


def test_json_logs_read_as_the_tsv_ones(tmp_path: Path) -> None:
    for name in ("conn.log", "dns.log"):
        _as_json_lines(WIKIPEDIA / name, tmp_path / name)
    assert sniff(str(tmp_path / "conn.log")) is SourceKind.ZEEK
    assert facts(audit(tmp_path / "conn.log")) == facts(audit(WIKIPEDIA / "conn.log"))


def test_gzip_logs_and_folders(tmp_path: Path) -> None:
    rotated = tmp_path / "2026-11-30"
    rotated.mkdir()
    for name in ("conn", "dns"):
        data = (WIKIPEDIA / f"{name}.log").read_bytes()
        (rotated / f"{name}.06:00:00-07:00:00.log.gz").write_bytes(gzip.compress(data))
    expected = facts(audit(WIKIPEDIA / "conn.log"))
    assert facts(audit(rotated)) == expected
    assert facts(audit(rotated / "conn.06:00:00-07:00:00.log.gz")) == expected
    assert read_source(rotated).summary.compressed


def test_sni_joined_by_uid_names_the_conn_logs_responder(tmp_path: Path) -> None:
    header = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p"
    (tmp_path / "conn.log").write_text(
        header + "\tproto\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\thistory\n"
        "1700000000.5\tCa\t10.0.0.2\t50000\t144.195.73.154\t443\ttcp\t5\t500\t4\t4000\tShADad\n"
    )
    (tmp_path / "ssl.log").write_text(
        header + "\tserver_name\n"
        "1700000000.6\tCa\t10.0.0.2\t50000\t144.195.73.154\t443\tZoom.US\n"
        "1700000001.0\tCb\t10.0.0.2\t50001\t142.250.82.99\t443\tmeet.google.com\n"
    )
    result = read_source(tmp_path / "conn.log")
    assert result.names == (
        NameSighting("144.195.73.154", "zoom.us", NameSource.SNI),
        # not in conn.log (filtered out, rotated apart): ssl.log's own responder is used
        NameSighting("142.250.82.99", "meet.google.com", NameSource.SNI),
    )
    (flow,) = result.flows
    assert (flow.a, flow.b, flow.packets, flow.bytes, flow.syn_ab) == (
        "10.0.0.2", "144.195.73.154", 9, 4500, True,
    )
    assert flow.first_seen == 1700000000.5
    (endpoint,) = server_endpoints(result.flows, result.names)
    assert endpoint.hostnames == ("zoom.us",)


def test_payload_bytes_are_said_when_ip_bytes_are_missing(tmp_path: Path) -> None:
    (tmp_path / "conn.log").write_text(
        "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto"
        "\torig_bytes\tresp_bytes\n1.0\tC1\t10.0.0.2\t5000\t144.195.73.154\t3478\tudp\t100\t-\n"
    )
    result = read_source(tmp_path / "conn.log")
    assert result.flows[0].bytes == 100
    assert any("payload" in limit for limit in result.summary.limits)


def test_ssl_log_alone_is_one_clear_error() -> None:
    # zeek's own baseline for zeek_webrtc-stun.pcap is an ssl.log: there is no conn.log for it.
    with pytest.raises(CaptureError, match=r"a Zeek ssl log: flows come from conn\.log"):
        read_source(ZEEK / "webrtc-stun" / "ssl.log")


def test_masked_times_are_unknown_not_1970() -> None:
    result = audit(WIKIPEDIA / "conn.log")
    assert result.captures[0].first_seen is None
    assert not any(math.isfinite(f.endpoint.first_seen) for f in result.findings)
    document = json.loads(get_format("json").render(result))
    assert all(e["first_seen"] is None for e in document["endpoints"])
    assert document["captures"][0]["format"] == "zeek"
    assert document["captures"][0]["limits"]


def test_cli_audits_a_conn_log_and_rejects_a_wrong_file_in_one_line(tmp_path: Path) -> None:
    from tests.test_cli import run

    status, out, err = run([str(WIKIPEDIA / "conn.log"), "--allow", "US,EU", "--format", "text"])
    # The bundled whois data puts SoftLayer's 173.192.163.128 in US, DB-IP in CA (Montreal):
    # disputed, so unknown and the run incomplete.
    assert status == 2, err
    assert "173.192.163.128 unknown: databases disagree (US, CA)" in out
    assert "(zeek)" in out
    assert "no frame numbers" in out
    wrong = tmp_path / "notes.json"
    wrong.write_text('{"hello": "world"}\n')
    status, out, err = run([str(wrong), "--allow", "US,EU", "--quiet"])
    assert status == 2
    assert err.count("\n") == 1
    assert f"{wrong}: neither a capture (pcap, pcapng) nor a Zeek log" in err
