"""Decides which side of each flow is the meeting's server, and aggregates flows per server."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import cast, overload

from auditor.addresses import is_local_host
from auditor.capture import fastpath
from auditor.capture.columns import Address, FlowRows, Row
from auditor.hosts import capture_hosts as capture_hosts  # noqa: PLC0414 - re-export
from auditor.model import (
    AttributionBasis,
    Flow,
    NameSighting,
    NameSource,
    PayloadKind,
    RoleClaim,
    ServerEndpoint,
    ServerReason,
    build_server_endpoint,
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

def is_service_port(port: int) -> bool:
    return 0 < port < 1024 or port in MEETING_PORTS


@dataclass(frozen=True, slots=True)
class ServerSide:
    """Which address of a flow is the server, and why."""

    server: str
    server_port: int
    reason: ServerReason


# The rules in order of strength: when one server is seen in several flows, the report gives
# the strongest reason any of them had. Ranks, not reasons, in the per-flow loop.
SYN_RANK, PORT_RANK, HOST_RANK, LOWER_PORT_RANK, SIGNALLED_RANK = 3, 2, 1, 0, -1
_REASON_OF_RANK = {
    SYN_RANK: ServerReason.SYN,
    PORT_RANK: ServerReason.PORT,
    HOST_RANK: ServerReason.NOT_CAPTURE_HOST,
    LOWER_PORT_RANK: ServerReason.LOWER_PORT,
    SIGNALLED_RANK: ServerReason.SIGNALLED,  # named in STUN/TURN only: any packet says more
}
REASON_STRENGTH = {reason: rank for rank, reason in _REASON_OF_RANK.items()}


def choose_server(flow: Flow, hosts: frozenset[str]) -> ServerSide | None:
    """The server side of one flow, or None when both sides are the capture's own host."""
    side = _server_side(
        flow.protocol, flow.a, flow.b, flow.a_port, flow.b_port, int(flow.syn_ab),
        int(flow.syn_ba), hosts, _text_is_local,
    )  # fmt: skip
    if side is None:
        return None
    server_is_b, rank = side
    reason = _REASON_OF_RANK[rank]
    if server_is_b:
        return ServerSide(flow.b, flow.b_port, reason)
    return ServerSide(flow.a, flow.a_port, reason)


def _server_side(  # noqa: PLR0917 - per flow, on the row's own fields
    proto: int,
    a: Address,
    b: Address,
    a_port: int,
    b_port: int,
    syn_ab: int,
    syn_ba: int,
    hosts: Container[Address],
    is_local: Callable[[Address], bool],
) -> tuple[bool, int] | None:
    """(whether b is the server, the rank of the rule that said so), or None when both sides
    are the capture's own host. The first rule, in order of strength, that tells the sides
    apart decides; the capture's own host is never judged as a server, even when it is public
    and accepted a connection (a peer-to-peer call): the far side is judged instead."""
    a_is_host, b_is_host = a in hosts, b in hosts
    if a_is_host and b_is_host:
        return None
    if proto == TCP and syn_ab != syn_ba:
        server_is_b, rank = bool(syn_ab), SYN_RANK  # the side that received a bare SYN listened
    elif proto in (TCP, UDP) and (
        (a_service := is_service_port(a_port)) != is_service_port(b_port)
    ):
        server_is_b, rank = not a_service, PORT_RANK
    elif a_is_host or b_is_host:
        server_is_b, rank = a_is_host, HOST_RANK
    elif (a_local := is_local(a)) != is_local(b):
        server_is_b, rank = a_local, HOST_RANK
    else:  # the lower port; nothing tells: the receiver of the first packet
        server_is_b, rank = a_port == b_port or b_port < a_port, LOWER_PORT_RANK
    if (b_is_host and server_is_b) or (a_is_host and not server_is_b):
        return not server_is_b, HOST_RANK
    return server_is_b, rank


def _text_is_local(address: Address) -> bool:
    return isinstance(address, str) and is_local_host(address)


PortKey = tuple[int, str]  # (port, protocol name)


class _Labels:
    """One object for each port key, port label and tuple of labels, shared by every
    endpoint that has it: a million endpoints on 443/udp hold one "443/udp" and one tuple."""

    def __init__(self) -> None:
        self.keys: dict[PortKey, PortKey] = {}
        self.tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.payloads: dict[int, PayloadKind] = {}
        self.single: dict[PortKey | str, tuple[str, ...]] = {}  # one port, or one protocol

    def port_column(self, column: list[PortKey | set[PortKey] | None]) -> list[tuple[str, ...]]:
        """ports() of each, each distinct one asked once when none is a set (a call per
        endpoint cost ~0.05 s at 100k servers)."""
        try:
            distinct: dict[PortKey | None, tuple[str, ...]]
            distinct = dict.fromkeys(cast("list[PortKey | None]", column), ())
        except TypeError:  # a set among them: unhashable
            return list(map(self.ports, column))
        for ports in distinct:
            distinct[ports] = self.ports(ports)
        return list(map(distinct.__getitem__, cast("list[PortKey | None]", column)))

    def ports(self, ports: PortKey | set[PortKey] | None) -> tuple[str, ...]:
        if ports is None:
            return ()
        if not isinstance(ports, set):  # most endpoints: made once per port
            labels = self.single.get(ports)
            if labels is None:
                labels = self.single[ports] = self._shared((f"{ports[0]}/{ports[1]}",))
            return labels
        return self._shared(tuple(f"{port}/{proto}" for port, proto in sorted(ports)))

    def protocol_column(self, column: list[str | set[str]]) -> list[tuple[str, ...]]:
        """protocols() of each, each distinct one asked once when none is a set (as
        port_column)."""
        try:
            distinct: dict[str, tuple[str, ...]] = dict.fromkeys(cast("list[str]", column), ())
        except TypeError:  # a set among them: unhashable
            return list(map(self.protocols, column))
        for protocols in distinct:
            distinct[protocols] = self.protocols(protocols)
        return list(map(distinct.__getitem__, cast("list[str]", column)))

    def protocols(self, protocols: str | set[str]) -> tuple[str, ...]:
        if isinstance(protocols, set):
            return self._shared(tuple(sorted(protocols)))
        names = self.single.get(protocols)
        if names is None:
            names = self.single[protocols] = self._shared((protocols,))
        return names

    def _shared(self, labels: tuple[str, ...]) -> tuple[str, ...]:
        return self.tuples.setdefault(labels, labels)

    def kinds(self, bits: int) -> PayloadKind:
        kind = self.payloads.get(bits)
        if kind is None:
            kind = self.payloads[bits] = PayloadKind(bits)
        return kind


# One server's flows added up: packets, bytes, flows, port(s), protocol(s), first seen, last
# seen, first frame, the rank of its strongest server rule, payload kind bits. A port and a
# protocol are kept bare until a second one shows (a set per endpoint would be most of its
# memory when endpoints are many).
Counts = tuple[
    int, int, int, "PortKey | set[PortKey] | None", "str | set[str]", float, float, int, int, int
]


class _Tally:
    """Counts of a server seen in more than one flow, added up (one flow's are a tuple)."""

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
        "rank",
    )

    def __init__(self, counts: Counts) -> None:
        (self.packets, self.bytes, self.flows, self.ports, self.protocols, self.first_seen,
         self.last_seen, self.first_frame, self.rank, self.payloads) = counts  # fmt: skip

    def counts(self) -> Counts:
        return (self.packets, self.bytes, self.flows, self.ports, self.protocols,
                self.first_seen, self.last_seen, self.first_frame, self.rank,
                self.payloads)  # fmt: skip

    def add(  # noqa: PLR0917 - mirrors __init__
        self, packets: int, nbytes: int, proto: str, port: PortKey | None, first: float,
        last: float, frame: int, rank: int, payloads: int,
    ) -> None:  # fmt: skip
        self.packets += packets
        self.bytes += nbytes
        self.flows += 1
        self.payloads |= payloads
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
        # The earliest flow, the lower frame on a tie: the same whatever order flows come in.
        if first < self.first_seen or (first == self.first_seen and frame < self.first_frame):
            self.first_seen, self.first_frame = first, frame
        if last > self.last_seen:  # noqa: PLR1730 - per flow: max() is a call
            self.last_seen = last
        if rank > self.rank:  # noqa: PLR1730
            self.rank = rank

# What attribution gives an endpoint: (platform, what it rested on, roles).
Attributed = tuple[str | None, AttributionBasis | None, tuple[RoleClaim, ...]]


MAX_HOSTNAMES = 32  # per endpoint: a CDN address can answer for thousands of names


def server_endpoints(
    flows: Sequence[Flow],
    names: Iterable[NameSighting] = (),
    capture: str | None = None,
    own_hosts: frozenset[str] | None = None,
) -> tuple[ServerEndpoint, ...]:
    """Every server address of one capture's flows, with what it carried, busiest first.

    ``capture`` is the file the flows came from: each endpoint carries it, so that a batch's
    merged endpoints still say in which captures they were seen. ``own_hosts``: the capture's
    own host(s) when known (a WebRTC dump's browser, or already worked out: none is an answer
    too, not worked out again); None: worked out from the flows.
    """
    return tuple(server_table(flows, names, capture, own_hosts))


def server_table(
    flows: Sequence[Flow],
    names: Iterable[NameSighting] = (),
    capture: str | None = None,
    own_hosts: frozenset[str] | None = None,
) -> ServerTable:
    """server_endpoints(), as a ServerTable: each endpoint made when asked for."""
    rows = FlowRows(flows)
    tallies = _tallies(rows, capture_hosts(flows) if own_hosts is None else own_hosts)
    names_of = names_by_address(names)
    tally_of = tallies.by_server
    keys = list(tally_of)
    ips = rows.texts(keys)
    tallied = _counts(list(tally_of.values()))
    tally_of.clear()
    # Busiest first, as merging._sort_busiest_first sorts endpoints (the addresses are distinct).
    order = sorted(range(len(ips)), key=ips.__getitem__)
    order.sort(key=list(map(_bytes_of, tallied)).__getitem__, reverse=True)
    keys, ips = list(map(keys.__getitem__, order)), list(map(ips.__getitem__, order))
    tallied = list(map(tallied.__getitem__, order))
    no_names: tuple[str, ...] = ()
    hostnames = [no_names] * len(ips)
    if names_of:
        hostnames = list(map(names_of.get, ips, hostnames))  # each one's, else no_names
    captures = () if capture is None else (capture,)
    ports = tallies.labels.port_column(list(map(_ports_of, tallied)))
    return ServerTable(ips, keys, tallied, hostnames, ports, captures, tallies.labels)


_bytes_of, _ports_of = itemgetter(1), itemgetter(3)


def _counts(tallied: list[Counts | _Tally]) -> list[Counts]:
    """Each server's Counts; the list as it is when every server had one flow (its type asked
    of each by C: a comprehension asking isinstance cost ~0.02 s at 100k servers)."""
    if set(map(type, tallied)) <= {tuple}:
        return cast("list[Counts]", tallied)
    return [tally if isinstance(tally, tuple) else tally.counts() for tally in tallied]


def endpoint_addresses(endpoints: Sequence[ServerEndpoint]) -> list[str]:
    """Each endpoint's address, in order (a table's without making its endpoints)."""
    if isinstance(endpoints, ServerTable):
        return list(endpoints.ips)
    return [endpoint.ip for endpoint in endpoints]


Endpoints = tuple[ServerEndpoint, ...]


class ServerTable(Sequence[ServerEndpoint]):
    """One capture's server endpoints as tallied, busiest first: a ServerEndpoint is made when
    one is asked for (then all, once), or by ``made``, with what attribution gives each: a
    frozen record of 17 fields costs ~4 us, and the audit made each twice, before and after
    attribution (a fifth of the per-server time at 100k servers). Its columns are what
    attribution reads. Pickled (to another process), it is the tuple of its endpoints."""

    __slots__ = ("_made", "captures", "counts", "hostnames", "ips", "keys", "labels", "ports")

    def __init__(  # noqa: PLR0917 - the table's columns
        self, ips: list[str], keys: list[Address], counts: list[Counts],
        hostnames: list[tuple[str, ...]], ports: list[tuple[str, ...]],
        captures: tuple[str, ...], labels: _Labels,
    ) -> None:  # fmt: skip
        self.ips = ips
        self.keys = keys  # the addresses as the rows held them (raw bytes from a capture)
        self.counts, self.hostnames, self.ports = counts, hostnames, ports
        self.captures, self.labels = captures, labels
        self._made: tuple[ServerEndpoint, ...] | None = None

    def __len__(self) -> int:
        return len(self.ips)

    @overload
    def __getitem__(self, index: int) -> ServerEndpoint: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ServerEndpoint]: ...
    def __getitem__(self, index: int | slice) -> ServerEndpoint | Sequence[ServerEndpoint]:
        return self._endpoints()[index]

    def __iter__(self) -> Iterator[ServerEndpoint]:
        return iter(self._endpoints())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ServerTable | tuple):
            return self._endpoints() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[tuple[ServerEndpoint, ...]], tuple[Endpoints]]:
        return tuple, (self._endpoints(),)

    def _endpoints(self) -> tuple[ServerEndpoint, ...]:
        if self._made is None:
            self._made = tuple(self.made([(None, None, ())] * len(self.ips)))
        return self._made

    def payloads(self) -> list[int]:
        """Each endpoint's payload kinds, as bits."""
        return [counts[9] for counts in self.counts]

    def made(self, given: Iterable[Attributed]) -> list[ServerEndpoint]:
        """Each endpoint, with what ``given`` gives it, in the table's order."""
        labels, captures, reasons = self.labels, self.captures, _REASON_OF_RANK
        bits = self.payloads()
        for distinct in set(bits):
            labels.kinds(distinct)
        kinds = list(map(labels.payloads.__getitem__, bits))
        # Labels once per distinct protocol (a call per endpoint cost ~0.02 s at 100k servers).
        protocols = labels.protocol_column(list(map(_protocols_of, self.counts)))
        # Every field, in order, for the builder (auditor/frozen.py): a frozen __init__ cost
        # ~4 us an endpoint.
        return [
            build_server_endpoint(
                ip, packets, nbytes, flows, ports, protos, first, last, frame,
                reasons[rank], names, platform, captures, kind, roles, basis, (),
            )
            for (ip, (packets, nbytes, flows, _port, _protos, first, last, frame, rank, _bits),
                 names, ports, protos, kind, (platform, basis, roles)) in zip(
                self.ips, self.counts, self.hostnames, self.ports, protocols, kinds, given,
                strict=True,
            )
        ]  # fmt: skip


_protocols_of = itemgetter(4)


@dataclass(slots=True)
class _Tallies:
    by_server: dict[Address, Counts | _Tally]
    labels: _Labels


def _tallies(rows: FlowRows, hosts: frozenset[str]) -> _Tallies:
    """Every flow's server side added up per server address, as the rows hold it (text is
    made once per server, by the caller, not twice per flow)."""
    host_keys = {key for key in map(rows.key, hosts) if key is not None}
    is_local = _LocalCache(rows).is_local
    labels = _Labels()
    tallies: dict[Address, Counts | _Tally] = {}
    tally_rows = _compiled_tally_rows() if fastpath.compiled else _tally_rows
    for proto, _version, group in rows.groups():
        keys = labels.keys if proto in (TCP, UDP) else None
        tally_rows(group, proto, protocol_name(proto), keys, host_keys, is_local, MEETING_PORTS,
                   tallies, _Tally)  # fmt: skip
    return _Tallies(tallies, labels)


def _tally_rows(  # noqa: PLR0917 - _loop.tally_rows's arguments
    rows: Iterable[Row],
    proto: int,
    name: str,
    keys: dict[PortKey, PortKey] | None,  # _Labels.keys; None: a protocol without ports
    hosts: Container[Address],
    is_local: Callable[[Address], bool],
    service: frozenset[int],  # MEETING_PORTS, as is_service_port reads it
    tallies: dict[Address, Counts | _Tally],
    tally: Callable[[Counts], _Tally],
) -> None:
    """Each row's server side added to its server's counts in ``tallies``: one flow's as a
    tuple, a _Tally from the second. _loop.tally_rows is this in C (~2 us a flow here)."""
    del service  # is_service_port reads MEETING_PORTS itself
    side_of = _server_side
    for (a, b, a_port, b_port, pab, pba, bab, bba, first, last, frame, syn_ab, syn_ba,
         _delay, payloads, _stun, _samples, _ack) in rows:  # fmt: skip
        side = side_of(proto, a, b, a_port, b_port, syn_ab, syn_ba, hosts, is_local)
        if side is None:
            continue
        server_is_b, rank = side
        server = b if server_is_b else a
        port = None
        if keys is not None:
            port = (b_port if server_is_b else a_port, name)
            port = keys.setdefault(port, port)
        counts = tallies.get(server)
        if counts is None:  # most servers: one flow, a tuple (a _Tally costs a call)
            tallies[server] = (pab + pba, bab + bba, 1, port, name, first, last, frame,
                               rank, payloads)  # fmt: skip
            continue
        if isinstance(counts, tuple):
            counts = tallies[server] = tally(counts)
        counts.add(pab + pba, bab + bba, name, port, first, last, frame, rank, payloads)


def _compiled_tally_rows() -> Callable[..., None]:
    # Imported when the compiled loops run, which they do only where they were built.
    from auditor.capture._loop import tally_rows as compiled

    return compiled


class _LocalCache:
    """Whether an address as the rows hold it is a local host, asked only when the SYN and the
    ports do not tell the sides apart; text is made for it then."""

    __slots__ = ("rows",)

    def __init__(self, rows: FlowRows) -> None:
        self.rows = rows

    def is_local(self, address: Address) -> bool:
        return is_local_host(self.rows.text(address))


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
