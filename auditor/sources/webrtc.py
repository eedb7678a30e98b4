"""Browser WebRTC dumps: chrome://webrtc-internals "Create dump" files and getStats() exports.

A browser user cannot capture packets, but can save what the browser knows of its peer
connections: the ICE candidate pairs it checked and used, with the remote candidates'
addresses, protocols and types, the byte (and, in newer browsers, packet) counters, and the
local relay candidates, whose TURN server carried the media. Each pair the browser sent
anything on becomes a flow from the browser to the remote candidate; a pair through a local
relay candidate also becomes a flow to the TURN server, which is the endpoint on the wire.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from auditor.errors import CaptureError
from auditor.model import CaptureResult, Flow, SourceKind
from auditor.sources.flows import FlowBuilder, address
from auditor.sources.lines import MAX_DOCUMENT, TextSource

Stats = dict[str, dict[str, object]]  # stats id -> attribute -> (latest) value
Progress = Callable[[int, int], None]

PROTOCOLS: Final = {"udp": 17, "tcp": 6, "tls": 6}
TURN_PORT: Final = 3478
LIMITS: Final = (
    "no packets: a WebRTC dump holds the browser's ICE candidate pairs and their counters "
    "(packet counts only where the browser keeps them), not the packets themselves",
    "only the browser's peer connections: signalling (HTTPS, WebSocket) and the page's other "
    "traffic are not in it",
    "bytes are the candidate pairs' bytesSent/bytesReceived (transport payload, not IP bytes)",
    "no server names and no frame numbers",
)
STAT_TYPES: Final = (
    b'"candidate-pair"', b'"local-candidate"', b'"remote-candidate"', b'"inbound-rtp"',
    b'"outbound-rtp"', b'"transport"', b'"codec"', b'"peer-connection"',
)
# The browser's own address is often hidden (mDNS) and never judged: every flow starts at the
# unspecified address of the server's family, and the endpoint stage is told it is the host.
BROWSER: Final = frozenset({"0.0.0.0", "::"})  # noqa: S104 - placeholders, not binds
_TURN_URL = re.compile(r"^turns?:(\[[0-9a-fA-F:.]+\]|[^:?\s]+)(?::(\d{1,5}))?")


def is_webrtc_head(head: bytes) -> bool:
    """A webrtc-internals dump, or JSON that reads like a getStats() report."""
    text = head.lstrip()
    if not text.startswith((b"{", b"[")):
        return False
    if b'"PeerConnections"' in text:
        return True
    return b'"type"' in text and any(kind in text for kind in STAT_TYPES)


def read_webrtc(path: str, progress: Progress | None = None) -> CaptureResult:
    with TextSource(path, progress) as source:
        text = source.whole(MAX_DOCUMENT)
        compressed, damage = source.compressed, source.damage
    if text is None:
        raise CaptureError(path, f"a WebRTC dump larger than {MAX_DOCUMENT >> 20} MiB")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        where = f" ({damage})" if damage else ""
        raise CaptureError(path, f"not a readable WebRTC dump: {_short(error)}{where}") from None
    builder = FlowBuilder()
    connections = list(_connections(document))
    if not connections:
        raise CaptureError(path, "JSON, but neither a webrtc-internals dump nor a getStats() "
                           "export (no peer connection stats in it)")
    for stats in connections:
        _pairs_to_flows(stats, builder)
    return builder.result(
        path, SourceKind.WEBRTC, compressed=compressed, complete=damage is None, limits=LIMITS,
        own_hosts=BROWSER,
    )


def _short(error: Exception) -> str:
    return str(error)[:120] if isinstance(error, ValueError) else "nested too deeply"


# --- the two shapes of dump, brought to one: stats by id, per peer connection ---------------


def _connections(document: object) -> Iterator[Stats]:
    if isinstance(document, dict) and isinstance(document.get("PeerConnections"), dict):
        for connection in document["PeerConnections"].values():
            if isinstance(connection, dict) and isinstance(connection.get("stats"), dict):
                yield _internals_stats(connection["stats"])
        return
    stats = _getstats_report(document)
    if stats:
        yield stats


def _internals_stats(series: Mapping[str, object]) -> Stats:
    """webrtc-internals keeps each attribute as a time series "<id>-<attribute>": the
    latest value is what the connection had reached, the first time when it was first seen."""
    stats: Stats = {}
    for key, entry in series.items():
        if not isinstance(entry, dict) or "-" not in key:
            continue
        stat_id, attribute = key.split("-", 1)
        values = entry.get("values")
        if isinstance(values, str):
            try:
                values = json.loads(values)
            except (ValueError, RecursionError):
                continue
        if not isinstance(values, list) or not values:
            continue
        record = stats.setdefault(stat_id, {})
        record[attribute] = values[-1]
        if attribute == "timestamp":
            record["firstTimestamp"] = values[0]
        if isinstance(entry.get("statsType"), str):
            record.setdefault("type", entry["statsType"])
    return stats


def _getstats_report(document: object) -> Stats:
    """getStats() results as pages save them: a list of stats, or an object by id."""
    items: list[object]
    if isinstance(document, list):
        items = document
    elif isinstance(document, dict):
        items = list(document.values())
    else:
        return {}
    stats: Stats = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            stats[item["id"]] = item
    if not any(s.get("type") == "candidate-pair" for s in stats.values()):
        return {}
    return stats


# --- candidate pairs to flows ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    address: str | None
    port: int
    protocol: int | None
    kind: str  # host, srflx, prflx, relay
    relay_protocol: int | None
    url: str


def _pairs_to_flows(stats: Stats, builder: FlowBuilder) -> None:
    selected = {
        s.get("selectedCandidatePairId") for s in stats.values() if s.get("type") == "transport"
    }
    for pair_id, pair in stats.items():
        if pair.get("type") != "candidate-pair":
            continue
        builder.records += 1
        if not _was_used(pair, pair_id in selected):
            continue
        local = _candidate(stats.get(_text(pair.get("localCandidateId"))))
        remote = _candidate(stats.get(_text(pair.get("remoteCandidateId"))))
        if remote is None or local is None:
            builder.skip("candidate pair without its candidates")
            continue
        _add_pair(pair, local, remote, builder)


def _was_used(pair: Mapping[str, object], selected: bool) -> bool:
    """Selected, nominated, or anything sent on it: the browser's packets went there."""
    sent = _number(pair.get("bytesSent")) + _number(pair.get("requestsSent"))
    return selected or pair.get("nominated") is True or sent > 0


@dataclass(frozen=True, slots=True)
class _Usage:
    """What a candidate pair carried, and when."""

    packets_out: int
    packets_in: int
    bytes_out: int
    bytes_in: int
    first: float
    last: float


def _add_pair(
    pair: Mapping[str, object], local: _Candidate, remote: _Candidate, builder: FlowBuilder
) -> None:
    usage = _usage(pair)
    if local.kind == "relay":
        # On the wire the browser talks to its TURN server only; it is an endpoint to judge.
        turn = _turn_server(local)
        if turn is None:
            builder.skip("relay candidate without an address")
        else:
            server, port, protocol = turn
            builder.add(_flow(protocol, local.port, server, port, usage))
    if remote.address is None or remote.protocol is None:
        builder.skip("remote candidate without an address (an mDNS name: on the local network)")
        return
    builder.add(_flow(remote.protocol, local.port, remote.address, remote.port, usage))


def _flow(protocol: int, local_port: int, server: str, server_port: int, usage: _Usage) -> Flow:
    browser = "::" if ":" in server else "0.0.0.0"  # noqa: S104 - one of BROWSER
    return Flow(protocol, browser, local_port, server, server_port, usage.packets_out,
                usage.packets_in, usage.bytes_out, usage.bytes_in, usage.first, usage.last, 0)


def _usage(pair: Mapping[str, object]) -> _Usage:
    # Newer browsers count packets on the pair; older ones only the ICE checks.
    packets_out = _number(pair.get("packetsSent")) or (
        _number(pair.get("requestsSent")) + _number(pair.get("responsesSent"))
    )
    packets_in = _number(pair.get("packetsReceived")) or (
        _number(pair.get("requestsReceived")) + _number(pair.get("responsesReceived"))
    )
    last = _number_float(pair.get("timestamp"))
    first = _number_float(pair.get("firstTimestamp"))
    first = last if math.isnan(first) else first
    return _Usage(
        packets_out, packets_in, _number(pair.get("bytesSent")),
        _number(pair.get("bytesReceived")),
        first / 1000, last / 1000,  # milliseconds in every browser's stats
    )


def _candidate(stats: Mapping[str, object] | None) -> _Candidate | None:
    if stats is None:
        return None
    raw = stats.get("address") or stats.get("ip") or stats.get("ipAddress")
    return _Candidate(
        address=address(raw) if isinstance(raw, str) else None,
        port=min(_number(stats.get("port") or stats.get("portNumber")), 65535),
        protocol=PROTOCOLS.get(_text(stats.get("protocol") or stats.get("transport")).lower()),
        kind=_text(stats.get("candidateType")).lower(),
        relay_protocol=PROTOCOLS.get(_text(stats.get("relayProtocol")).lower()),
        url=_text(stats.get("url")),
    )


def _turn_server(local: _Candidate) -> tuple[str, int, int] | None:
    """(address, port, protocol) of the TURN server behind a local relay candidate.

    The relay candidate's address is the server's (the port is the allocation's); the URL
    gives the port the browser sends to, and relayProtocol how.
    """
    if local.address is None:
        return None
    port = TURN_PORT
    match = _TURN_URL.match(local.url)
    if match is not None and match[2] is not None and 0 < int(match[2]) < 65536:
        port = int(match[2])
    return local.address, port, local.relay_protocol or 17


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if not math.isfinite(value) or value < 0:
        return 0
    return int(min(value, 2**63))


def _number_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value) if math.isfinite(value) else math.nan
