"""Zeek logs: conn.log as flows, with names from ssl.log (SNI, joined by uid) and dns.log.

Both writer formats are read: the ASCII/TSV one with its ``#separator``/``#fields`` header, and
JSON (one object per line). Logs may be gzip-compressed, and a folder of logs (as Zeek rotates
them) is read whole. Byte counts are Zeek's ``orig_ip_bytes``/``resp_ip_bytes``: IP-layer bytes,
headers included, as the capture stage counts them; a log without those columns falls back to
``orig_bytes``/``resp_bytes`` (transport payload) and the report says so.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from auditor.errors import CaptureError
from auditor.model import CaptureResult, Flow, NameSource, SourceKind
from auditor.sources.flows import FlowBuilder, address, host_name
from auditor.sources.lines import TextSource
from auditor.sources.zeek_rows import Log, Row, count, json_row, number, row_address, rows

Progress = Callable[[int, int], None]

PROTOCOLS: Final = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}  # conn.log's proto enum
MAX_SNI_PENDING: Final = 100_000  # ssl.log rows held for the uid join: bounded memory
LIMITS: Final = ("no frame numbers (Zeek logs connections, not packets)",)
PAYLOAD_LIMIT: Final = (
    "bytes are transport payload (orig_bytes/resp_bytes): this conn.log has no "
    "orig_ip_bytes/resp_ip_bytes"
)
_LOG_NAME = re.compile(r"^(conn|ssl|dns|tunnel)([._].*)?\.log(\.gz)?$")
_BESIDE: Final = ("ssl", "dns", "tunnel")
# tunnel.log's tunnel_type -> the outer IP protocol; the UDP-borne ones keep their ports.
TUNNEL_PROTOCOLS: Final = {
    "Tunnel::GRE": 47, "Tunnel::IP": 4, "Tunnel::VXLAN": 17, "Tunnel::TEREDO": 17,
    "Tunnel::AYIYA": 17, "Tunnel::GTPv1": 17, "Tunnel::GENEVE": 17,
}
MAX_TUNNELS: Final = 100_000


def is_zeek_head(head: bytes) -> bool:
    """A Zeek TSV header, or a JSON line with Zeek's connection id fields.

    Comment lines before the header are allowed: btest baselines start with one.
    """
    lines = head.split(b"\n")
    for line in lines[:8]:
        if line.startswith(b"#separator "):
            return True
        if not line.startswith(b"#"):
            break
    first = lines[0].strip()
    return first.startswith(b"{") and b'"uid"' in first and b"orig_h" in first


def read_zeek(path: str, progress: Progress | None = None) -> CaptureResult:
    """Flows from a conn.log (names from the ssl.log and dns.log beside it) or a log folder."""
    logs = _folder_logs(path) if os.path.isdir(path) else [_sibling_logs(path)]
    builder = FlowBuilder()
    complete, compressed, payload_bytes = True, False, False
    for group in logs:
        read = _read_group(group, builder, progress)
        complete &= read.complete
        compressed |= read.compressed
        payload_bytes |= read.payload_bytes
    limits = LIMITS + ((PAYLOAD_LIMIT,) if payload_bytes else ())
    return builder.result(
        path, SourceKind.ZEEK, compressed=compressed, complete=complete, limits=limits
    )


@dataclass(frozen=True, slots=True)
class _Group:
    """One conn log and the ssl, dns and tunnel logs of the same period (None when absent)."""

    conn: str
    ssl: str | None
    dns: str | None
    tunnel: str | None


@dataclass(frozen=True, slots=True)
class _Read:
    complete: bool
    compressed: bool
    payload_bytes: bool


def _sibling_logs(path: str) -> _Group:
    kind = _log_kind_of_file(path)
    if kind != "conn":
        raise CaptureError(path, f"a Zeek {kind} log: flows come from conn.log; give the "
                           "conn.log (its ssl.log and dns.log are read beside it) or the folder")
    folder, name = os.path.split(path)
    match = _LOG_NAME.match(name)
    return _Group(path, *(_beside(folder, name, match, other) for other in _BESIDE))


def _beside(folder: str, name: str, match: re.Match[str] | None, kind: str) -> str | None:
    if match is None or match[1] != "conn":
        return None
    candidate = os.path.join(folder, kind + name[len("conn"):])
    return candidate if os.path.isfile(candidate) else None


def is_log_folder(names: list[str]) -> bool:
    """Whether a folder holding these file names is a Zeek log folder (conn, ssl, dns or
    tunnel logs): one input, whose reader says what is missing."""
    return any(_LOG_NAME.match(name) is not None for name in names)


def _folder_logs(path: str) -> list[_Group]:
    try:
        names = sorted(os.listdir(path))
    except OSError as error:
        raise CaptureError(path, f"cannot list folder: {error.strerror}") from error
    groups = []
    for name in names:
        match = _LOG_NAME.match(name)
        if match is not None and match[1] == "conn":
            groups.append(_Group(
                os.path.join(path, name),
                *(_beside(path, name, match, other) for other in _BESIDE),
            ))
    if not groups:
        raise CaptureError(path, "a folder without a Zeek conn log (conn.log, conn.*.log.gz)")
    return groups


def _log_kind_of_file(path: str) -> str:
    with TextSource(path) as source:
        for line in source.lines():
            if line.text is None:
                break
            kind = _header_path(line.text)
            if kind is not None:
                return kind
            if line.text.startswith(b"#fields"):
                # No #path (a hand-cut log): the columns say which log it is.
                columns = line.text.decode("utf-8", "replace").split()
                return _kind_of_row(dict.fromkeys(columns[1:]))
            if line.text.startswith(b"#"):
                continue
            return _kind_of_row(json_row(line.text))
    return "unknown"


def _header_path(text: bytes) -> str | None:
    if text.startswith(b"#path"):
        return text[len(b"#path") :].strip().decode("ascii", "replace")
    return None


def _kind_of_row(row: Row | None) -> str:
    if row is None:
        return "unknown"
    if {"conn_state", "orig_pkts", "history", "orig_bytes", "orig_ip_bytes"} & row.keys():
        return "conn"
    if "server_name" in row or "cipher" in row:
        return "ssl"
    if "query" in row or "answers" in row:
        return "dns"
    if "tunnel_type" in row:
        return "tunnel"
    return "unknown"


def _read_group(group: _Group, builder: FlowBuilder, progress: Progress | None) -> _Read:
    sni = _SniJoin()
    if group.ssl is not None:
        for row in rows(group.ssl, builder, None):
            sni.add(row, builder)
    if group.dns is not None:
        for row in rows(group.dns, builder, None):
            _dns_names(row, builder)
    tunnels = _Tunnels()
    if group.tunnel is not None:
        for row in rows(group.tunnel, builder, None):
            tunnels.add(row)
    log = Log(group.conn)
    payload_bytes = False
    for row in rows(group.conn, builder, progress, log):
        flow = _conn_flow(row, builder)
        if flow is None:
            continue
        payload_bytes |= "orig_ip_bytes" not in row
        builder.add(flow)
        sni.joined(row, flow.b, builder)
        tunnels.carry(row, flow, builder)
    sni.rest(builder)
    if tunnels.unknown:
        # The packets went to a tunnel endpoint that no log read here names: fail closed.
        builder.warnings.append(
            f"{group.conn}: {tunnels.unknown} tunnelled connections whose tunnel is not in a "
            "tunnel.log beside it: the tunnel endpoints cannot be judged"
        )
        log.complete = False
    return _Read(log.complete, log.compressed, payload_bytes)


def _conn_flow(row: Row, builder: FlowBuilder) -> Flow | None:
    orig, resp = row_address(row, "id.orig_h"), row_address(row, "id.resp_h")
    protocol = _protocol(row)
    if orig is None or resp is None or protocol is None:
        builder.skip("conn row without addresses or protocol")
        return None
    ported = protocol in (6, 17)
    orig_port = count(row, "id.orig_p") if ported else 0
    resp_port = count(row, "id.resp_p") if ported else 0
    start = number(row, "ts")
    duration = number(row, "duration")
    history = row.get("history")
    history = history if isinstance(history, str) else ""
    ip_bytes = "orig_ip_bytes" in row
    return Flow(
        protocol=protocol,
        a=orig,
        a_port=min(orig_port, 65535),
        b=resp,
        b_port=min(resp_port, 65535),
        packets_ab=count(row, "orig_pkts"),
        packets_ba=count(row, "resp_pkts"),
        bytes_ab=count(row, "orig_ip_bytes" if ip_bytes else "orig_bytes"),
        bytes_ba=count(row, "resp_ip_bytes" if ip_bytes else "resp_bytes"),
        first_seen=start,
        last_seen=start + duration if not math.isnan(duration) else start,
        first_frame=0,
        # Zeek's history: S, the originator sent a SYN without ACK; s, the responder did.
        syn_ab="S" in history,
        syn_ba="s" in history,
    )


def _protocol(row: Row) -> int | None:
    number = row.get("ip_proto")
    if number is not None:
        value = count(row, "ip_proto")
        if 0 < value < 256:
            return value
    name = row.get("proto")
    return PROTOCOLS.get(name) if isinstance(name, str) else None


def _dns_names(row: Row, builder: FlowBuilder) -> None:
    query = row.get("query")
    answers = row.get("answers")
    if not isinstance(query, str) or not isinstance(answers, list):
        return
    name = host_name(query)
    if name is None:
        return
    # Zeek lists the CNAME chain's names before the addresses, in order: keep them as a
    # capture's DNS reader does (names.dns_names).
    servers = [address(a) if isinstance(a, str) else None for a in answers]
    chain = [
        alias
        for a, server in zip(answers, servers, strict=True)
        if server is None and isinstance(a, str) and (alias := host_name(a)) is not None
    ]
    for server in servers:
        if server is not None:
            builder.name(server, name, NameSource.DNS)
            for alias in chain:
                builder.name(server, alias, NameSource.CNAME)


class _Tunnels:
    """tunnel.log's tunnels by uid; each carries the packets of the connections inside it.

    A capture reader that does not decapsulate sees only the tunnel; Zeek logs the connections
    inside and the tunnel separately. The tunnel's endpoints are servers too (a VPN
    concentrator, a GRE peer), so each gets a flow with the packets and bytes of the
    connections it carried (the encapsulation's own header bytes are not in any log).
    """

    def __init__(self) -> None:
        self.by_uid: dict[str, Flow] = {}
        self.unknown = 0

    def add(self, row: Row) -> None:
        uid, kind = row.get("uid"), row.get("tunnel_type")
        orig, resp = row_address(row, "id.orig_h"), row_address(row, "id.resp_h")
        if not isinstance(uid, str) or orig is None or resp is None:
            return
        if len(self.by_uid) >= MAX_TUNNELS:
            return
        protocol = TUNNEL_PROTOCOLS.get(kind, 0) if isinstance(kind, str) else 0
        ported = protocol == 17
        self.by_uid[uid] = Flow(
            protocol, orig, min(count(row, "id.orig_p"), 65535) if ported else 0, resp,
            min(count(row, "id.resp_p"), 65535) if ported else 0, 0, 0, 0, 0,
            number(row, "ts"), number(row, "ts"), 0,
        )

    def carry(self, row: Row, inner: Flow, builder: FlowBuilder) -> None:
        parents = row.get("tunnel_parents")
        if isinstance(parents, str):
            parents = [parents]
        if not isinstance(parents, list):
            return
        for uid in parents:
            tunnel = self.by_uid.get(uid) if isinstance(uid, str) else None
            if tunnel is None:
                self.unknown += 1
                continue
            # Which inner direction rode which outer one is not logged: the inner originator's
            # packets are counted as the tunnel originator's.
            builder.add(Flow(
                tunnel.protocol, tunnel.a, tunnel.a_port, tunnel.b, tunnel.b_port,
                inner.packets_ab, inner.packets_ba, inner.bytes_ab, inner.bytes_ba,
                inner.first_seen, inner.last_seen, 0,
            ))


class _SniJoin:
    """ssl.log's server names, joined to conn.log by uid; held in bounded memory."""

    def __init__(self) -> None:
        self.by_uid: dict[str, tuple[str, str | None]] = {}  # uid -> (name, ssl's own resp_h)

    def add(self, row: Row, builder: FlowBuilder) -> None:
        uid, sni = row.get("uid"), row.get("server_name")
        if not isinstance(uid, str) or not isinstance(sni, str):
            return
        name = host_name(sni)
        if name is None:
            return
        server = row_address(row, "id.resp_h")
        if len(self.by_uid) >= MAX_SNI_PENDING:
            if server is not None:  # no room to join: ssl.log's own responder says as much
                builder.name(server, name, NameSource.SNI)
            return
        self.by_uid[uid] = (name, server)

    def joined(self, row: Row, server: str, builder: FlowBuilder) -> None:
        uid = row.get("uid")
        if isinstance(uid, str) and uid in self.by_uid:
            name, _ = self.by_uid.pop(uid)
            builder.name(server, name, NameSource.SNI)

    def rest(self, builder: FlowBuilder) -> None:
        """ssl.log rows whose connection is not in conn.log (rotated apart, filtered out)."""
        for name, server in self.by_uid.values():
            if server is not None:
                builder.name(server, name, NameSource.SNI)
        self.by_uid.clear()
