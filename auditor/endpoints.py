"""Decides which side of each flow is the meeting's server, and aggregates flows per server."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from auditor.addresses import is_local_host
from auditor.model import (
    Flow,
    NameSighting,
    NameSource,
    ServerEndpoint,
    ServerReason,
    Sighting,
    protocol_name,
)

TCP = 6
UDP = 17

# Ports a meeting's servers listen on: web/TLS signalling, STUN/TURN, the vendors' media relays.
# Anything below 1024 is a service port too.
MEETING_PORTS: frozenset[int] = frozenset(
    {
        443, 80, 8080, 8443,  # HTTPS/HTTP signalling, WebSocket, HTTP proxies
        3478, 3479, 3480, 3481,  # STUN/TURN (Teams, Meet, WebRTC)
        5349, 5350,  # TURN over TLS
        *range(8801, 8811),  # Zoom media/connectors
        *range(19302, 19310),  # Google STUN/Meet media
        10000,  # Jitsi Videobridge media
        9000,  # Webex media
        5004, 5005,  # RTP/RTCP defaults
        5060, 5061,  # SIP
        1935,  # RTMP (streaming of meetings)
    }
)

# A strength order for reasons: when one server is seen in several flows, the report gives the
# strongest reason any of them had.
_REASON_STRENGTH = {
    ServerReason.SYN: 3,
    ServerReason.PORT: 2,
    ServerReason.NOT_CAPTURE_HOST: 1,
    ServerReason.LOWER_PORT: 0,
    ServerReason.SIGNALLED: -1,  # named in STUN/TURN only: any packet says more
}


def is_service_port(port: int) -> bool:
    return 0 < port < 1024 or port in MEETING_PORTS


def capture_hosts(flows: Sequence[Flow]) -> frozenset[str]:
    """The capture's own host(s): per IP version, the address that takes part in most flows.

    A meeting capture is taken on the client, so its address is in (nearly) every flow. We take
    the most frequent address of each IP version when it is in at least half of that version's
    flows; a dual-stack client thus has one host address per version. Ties go to the private
    address, then to the address text, so the result does not depend on flow order.
    """
    hosts: set[str] = set()
    for version in (4, 6):
        seen, versioned = _frequent_addresses(flows, version)
        if not versioned:
            continue
        best = max(seen.items(), key=lambda item: (item[1], is_local_host(item[0]), item[0]))
        address, count = best
        in_most_flows = count > 1 and count * 2 >= versioned
        lone_private_flow = versioned == 1 and is_local_host(address)
        if in_most_flows or lone_private_flow:
            hosts.add(address)
    return frozenset(hosts)


FREQUENT_CANDIDATES = 8


def _frequent_addresses(flows: Sequence[Flow], version: int) -> tuple[dict[str, int], int]:
    """The exact flow counts of the only addresses that can be in half of one IP version's
    flows, and how many flows that version has, in constant memory (a million servers must not
    cost a million counters): Misra and Gries's frequent-items pass keeps every address that is
    in more than 1/(k+1) of the sightings, and a host is in at least 1/4 of them (a flow gives
    two); a second pass counts those candidates exactly."""
    candidates: dict[str, int] = {}
    for flow in flows:
        if _version(flow.a) != version:
            continue
        for address in (flow.a, flow.b) if flow.b != flow.a else (flow.a,):
            if address in candidates:
                candidates[address] += 1
            elif len(candidates) < FREQUENT_CANDIDATES:
                candidates[address] = 1
            else:
                for known in list(candidates):
                    candidates[known] -= 1
                    if not candidates[known]:
                        del candidates[known]
    exact = dict.fromkeys(candidates, 0)
    versioned = 0
    for flow in flows:
        if _version(flow.a) != version:
            continue
        versioned += 1
        if flow.a in exact:
            exact[flow.a] += 1
        if flow.b != flow.a and flow.b in exact:
            exact[flow.b] += 1
    return exact, versioned


@dataclass(frozen=True, slots=True)
class ServerSide:
    """Which address of a flow is the server, and why."""

    server: str
    server_port: int
    reason: ServerReason


def choose_server(flow: Flow, hosts: frozenset[str]) -> ServerSide | None:
    """The server side of one flow, or None when both sides are the capture's own host."""
    a_is_host, b_is_host = flow.a in hosts, flow.b in hosts
    if a_is_host and b_is_host:
        return None
    side, reason = _side_by_evidence(flow, hosts)
    # The capture's own host is never judged as a server, even when it is public and accepted a
    # connection (a peer-to-peer call): judge the far side instead.
    if (side == "a" and a_is_host) or (side == "b" and b_is_host):
        side, reason = ("b" if side == "a" else "a"), ServerReason.NOT_CAPTURE_HOST
    if side == "a":
        return ServerSide(flow.a, flow.a_port, reason)
    return ServerSide(flow.b, flow.b_port, reason)


def _side_by_evidence(flow: Flow, hosts: frozenset[str]) -> tuple[str, ServerReason]:
    """The first rule, in order of strength, that tells the sides apart."""
    for side, reason in (
        (_side_by_syn(flow), ServerReason.SYN),
        (_side_by_port(flow), ServerReason.PORT),
        (_side_by_host(flow, hosts), ServerReason.NOT_CAPTURE_HOST),
    ):
        if side is not None:
            return side, reason
    if flow.a_port != flow.b_port:
        return ("a" if flow.a_port < flow.b_port else "b"), ServerReason.LOWER_PORT
    return "b", ServerReason.LOWER_PORT  # nothing tells: the receiver of the first packet


def _side_by_syn(flow: Flow) -> str | None:
    if flow.protocol != TCP or flow.syn_ab == flow.syn_ba:
        return None
    return "b" if flow.syn_ab else "a"  # the side that received a bare SYN was listening


def _side_by_port(flow: Flow) -> str | None:
    if flow.protocol not in (TCP, UDP):
        return None
    a_service, b_service = is_service_port(flow.a_port), is_service_port(flow.b_port)
    if a_service == b_service:
        return None
    return "a" if a_service else "b"


def _side_by_host(flow: Flow, hosts: frozenset[str]) -> str | None:
    if flow.a in hosts:
        return "b"
    if flow.b in hosts:
        return "a"
    a_private, b_private = is_local_host(flow.a), is_local_host(flow.b)
    if a_private != b_private:
        return "b" if a_private else "a"
    return None


PortKey = tuple[int, str]  # (port, protocol name)


class _Labels:
    """One object for each port key, port label and tuple of labels, shared by every
    endpoint that has it: a million endpoints on 443/udp hold one "443/udp" and one tuple."""

    def __init__(self) -> None:
        self.keys: dict[PortKey, PortKey] = {}
        self.tuples: dict[tuple[str, ...], tuple[str, ...]] = {}

    def key(self, port: int, proto: str) -> PortKey:
        key = (port, proto)
        return self.keys.setdefault(key, key)

    def ports(self, ports: PortKey | set[PortKey] | None) -> tuple[str, ...]:
        if ports is None:
            return ()
        keys = sorted(ports) if isinstance(ports, set) else [ports]
        labels = tuple(f"{port}/{proto}" for port, proto in keys)
        return self.tuples.setdefault(labels, labels)

    def protocols(self, protocols: str | set[str]) -> tuple[str, ...]:
        names = tuple(sorted(protocols)) if isinstance(protocols, set) else (protocols,)
        return self.tuples.setdefault(names, names)


class _Tally:
    """One server's flows added up. A port and a protocol are kept bare until a second one
    shows (a set per endpoint would be most of its memory when endpoints are many)."""

    __slots__ = (
        "bytes",
        "first_frame",
        "first_seen",
        "flows",
        "last_seen",
        "packets",
        "payloads",
        "ports",
        "protocols",
        "reason",
    )

    def __init__(self, flow: Flow, side: ServerSide, port: PortKey | None) -> None:
        self.packets = flow.packets
        self.bytes = flow.bytes
        self.flows = 1
        self.ports: PortKey | set[PortKey] | None = port
        self.protocols: str | set[str] = protocol_name(flow.protocol)
        self.first_seen, self.first_frame = flow.first_seen, flow.first_frame
        self.last_seen = flow.last_seen
        self.reason = side.reason
        self.payloads = flow.payloads

    def add(self, flow: Flow, side: ServerSide, port: PortKey | None) -> None:
        self.packets += flow.packets
        self.bytes += flow.bytes
        self.flows += 1
        self.payloads |= flow.payloads
        proto = protocol_name(flow.protocol)
        if proto != self.protocols:
            if isinstance(self.protocols, str):
                self.protocols = {self.protocols}
            self.protocols.add(proto)
        if port is not None and port != self.ports:
            if self.ports is None:
                self.ports = port
            else:
                if not isinstance(self.ports, set):
                    self.ports = {self.ports}
                self.ports.add(port)
        if flow.first_seen < self.first_seen:
            self.first_seen, self.first_frame = flow.first_seen, flow.first_frame
        self.last_seen = max(self.last_seen, flow.last_seen)
        if _REASON_STRENGTH[side.reason] > _REASON_STRENGTH[self.reason]:
            self.reason = side.reason

    def endpoint(
        self, ip: str, hostnames: tuple[str, ...], captures: tuple[str, ...], labels: _Labels
    ) -> ServerEndpoint:
        return ServerEndpoint(
            ip=ip,
            packets=self.packets,
            bytes=self.bytes,
            flows=self.flows,
            ports=labels.ports(self.ports),
            protocols=labels.protocols(self.protocols),
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            first_frame=self.first_frame,
            reason=self.reason,
            hostnames=hostnames,
            captures=captures,
            payloads=self.payloads,
        )


MAX_HOSTNAMES = 32  # per endpoint: a CDN address can answer for thousands of names


def server_endpoints(
    flows: Sequence[Flow],
    names: Iterable[NameSighting] = (),
    capture: str | None = None,
    own_hosts: frozenset[str] = frozenset(),
) -> tuple[ServerEndpoint, ...]:
    """Every server address of one capture's flows, with what it carried, busiest first.

    ``capture`` is the file the flows came from: each endpoint carries it, so that a batch's
    merged endpoints still say in which captures they were seen. ``own_hosts``: the capture's
    own host when the source knows it (a WebRTC dump's browser); else guessed from the flows.
    """
    hosts = own_hosts or capture_hosts(flows)
    labels = _Labels()
    tallies: dict[str, _Tally] = {}
    for flow in flows:
        side = choose_server(flow, hosts)
        if side is None:
            continue
        ported = flow.protocol in (TCP, UDP)
        port = labels.key(side.server_port, protocol_name(flow.protocol)) if ported else None
        tally = tallies.get(side.server)
        if tally is None:
            tallies[side.server] = _Tally(flow, side, port)
        else:
            tally.add(flow, side, port)
    names_of = names_by_address(names)
    captures = () if capture is None else (capture,)
    endpoints: list[ServerEndpoint] = []
    while tallies:  # each tally is let go as its endpoint is made
        ip, tally = tallies.popitem()
        endpoints.append(tally.endpoint(ip, names_of.get(ip, ()), captures, labels))
    endpoints.sort(key=_busiest_first)
    return tuple(endpoints)


def _busiest_first(endpoint: ServerEndpoint) -> tuple[int, str]:
    return -endpoint.bytes, endpoint.ip


def names_by_address(names: Iterable[NameSighting]) -> dict[str, tuple[str, ...]]:
    """The distinct names each address was reached as, SNI before DNS, at most MAX_HOSTNAMES.

    SNI comes first because the client sent it to that very server; a DNS answer only says the
    name resolved there at some point.
    """
    ordered = sorted(names, key=lambda sighting: sighting.source is not NameSource.SNI)
    found: dict[str, dict[str, None]] = {}
    for sighting in ordered:
        seen = found.setdefault(sighting.address, {})
        if len(seen) < MAX_HOSTNAMES:
            seen[sighting.name] = None
    return {address: tuple(seen) for address, seen in found.items()}


def merge_endpoints(groups: Iterable[Sequence[ServerEndpoint]]) -> tuple[ServerEndpoint, ...]:
    """One endpoint per server address across several captures (a day's batch)."""
    merged: dict[str, ServerEndpoint] = {}
    for group in groups:
        for endpoint in group:
            known = merged.get(endpoint.ip)
            merged[endpoint.ip] = endpoint if known is None else _combine(known, endpoint)
    return tuple(sorted(merged.values(), key=_busiest_first))


def _combine(left: ServerEndpoint, right: ServerEndpoint) -> ServerEndpoint:
    # An endpoint STUN/TURN only named has no frame: the one with packets says when it began.
    first = min(left, right, key=lambda e: (e.flows == 0, e.first_seen))
    stronger = max(left.reason, right.reason, key=_REASON_STRENGTH.__getitem__)
    return ServerEndpoint(
        ip=left.ip,
        packets=left.packets + right.packets,
        bytes=left.bytes + right.bytes,
        flows=left.flows + right.flows,
        ports=tuple(sorted(set(left.ports) | set(right.ports), key=_port_sort_key)),
        protocols=tuple(sorted(set(left.protocols) | set(right.protocols))),
        first_seen=first.first_seen,
        last_seen=max(left.last_seen, right.last_seen),
        first_frame=first.first_frame,
        reason=stronger,
        hostnames=tuple(dict.fromkeys(left.hostnames + right.hostnames))[:MAX_HOSTNAMES],
        platform=left.platform or right.platform,
        captures=tuple(dict.fromkeys(left.captures + right.captures)),
        payloads=left.payloads | right.payloads,
        roles=tuple(dict.fromkeys(left.roles + right.roles)),
        sightings=_sightings(left, right),
    )


def _sightings(left: ServerEndpoint, right: ServerEndpoint) -> tuple[Sighting, ...]:
    """Each capture's own counts, frames and times, kept when endpoints of several merge; the
    same capture twice (given twice on the command line) is added up."""
    merged: dict[str, Sighting] = {}
    for seen in (*left.seen_in(), *right.seen_in()):
        known = merged.get(seen.capture)
        merged[seen.capture] = seen if known is None else _add(known, seen)
    return tuple(merged.values()) if len(merged) > 1 else ()


def _add(known: Sighting, seen: Sighting) -> Sighting:
    first = known if known.first_seen <= seen.first_seen else seen
    return Sighting(known.capture, known.packets + seen.packets, known.bytes + seen.bytes,
                    known.flows + seen.flows, first.first_seen,
                    max(known.last_seen, seen.last_seen), first.first_frame)


def _port_sort_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return int(number), proto


def _version(address: str) -> int:
    return 6 if ":" in address else 4
