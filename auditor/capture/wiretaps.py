"""What the first packets of each direction say beyond names: what the payloads are (for
roles), the addresses STUN/TURN messages carry, their REALM, a plain-HTTP Host, STUN
transaction round trips, and the inner packets of tunnels.

Looked at on the same tapped packets as the name taps (taps.py), with a budget of its own for
UDP (UDP_TAP_PACKETS: WebRTC sends STUN, then DTLS, then SRTP on one 5-tuple, and the first
SRTP packet comes some twenty packets in). A tunnel's outer direction stays tapped for good:
each of its packets carries an inner one to decode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple, cast

from auditor.capture.records import LAST_TS, KindSighting, Orphan, Record, Sighting, reverse_key
from auditor.httphost import http_host, is_host_name
from auditor.model import NameSighting, NameSource, PayloadKind, SignalledAddress, SignalledKind
from auditor.roles import payload_kind
from auditor.stun import MessageClass, StunMessage, parse_stun
from auditor.tunnels import MAX_DEPTH, Inner, Tunnel, ip_inner, udp_inner, udp_tunnel_of

if TYPE_CHECKING:
    from auditor.capture.flowtable import FlowTable
    from auditor.capture.taps import Buf

UDP_TAP_PACKETS: Final = 32
TCP_TAP_PACKETS: Final = 8  # as taps.TAP_PACKETS: a ClientHello or a request comes first
MAX_SIGNALLED: Final = 10_000  # distinct signalled addresses kept per capture
MAX_TRANSACTIONS: Final = 4_096  # STUN requests awaiting their answer
TUNNEL_PROTOCOLS: Final = frozenset({4, 41, 47})
DNS_PORT: Final = b"\x00\x35"
DATA_METHOD: Final = 7  # TURN Data indication: sent by the relay
TOO_DEEP: Final = f"tunnel nested deeper than {MAX_DEPTH}"


class StunEvent(NamedTuple):
    """A STUN request or answer, held back by a range starting mid-file."""

    proto: int
    key: bytes
    transaction: bytes
    at: float
    request: bool
    packet: int  # its index among its direction's packets in the range


def wire_budget(proto: int, key: bytes) -> int | None:
    """How many of a direction's first packets are looked at; None: all of them (answers
    from DNS port 53, and tunnels, whose every packet carries another)."""
    if proto == 6:
        return TCP_TAP_PACKETS
    if proto != 17:
        return None
    if key[-4:-2] == DNS_PORT or udp_tunnel_of(key) is not None:
        return None
    return UDP_TAP_PACKETS  # the only budget a UDP direction has (FlowTable.add_untabled)


class WireTaps:
    """Part of FlowTable (see NameTaps): payload kinds, STUN/TURN, HTTP Host, tunnels."""

    taps: dict[int, dict[bytes, Record]]
    kinds: dict[tuple[int, bytes], int]
    signalled: dict[SignalledAddress, None]
    stun_open: dict[tuple[bytes, bytes], float]  # (direction key, transaction id) -> sent at
    stun_trips: dict[tuple[int, bytes], list[float]]  # server direction -> [min, samples]
    depth: int
    orphans: list[Orphan] | None
    stun_events: list[StunEvent]
    inner_packets: int
    inner_bytes: int
    inner_skipped: dict[str, int]
    warnings: list[str]

    def _sighted(
        self, sighting: Sighting, proto: int, key: bytes, index: int, frame: int
    ) -> None:
        raise NotImplementedError  # NameTaps's

    def skip(self, reason: str) -> None:
        raise NotImplementedError  # FlowTable's

    def _keep(self, sighting: Sighting) -> None:
        raise NotImplementedError  # NameTaps's

    def merge_wire(self, other: WireTaps, before: dict[tuple[int, bytes], int]) -> None:
        """Fold in what the next byte range's taps kept (its held-back sightings settled);
        ``before``: the packets of its STUN events' directions in the ranges before it."""
        for event in other.stun_events:
            budget = wire_budget(event.proto, event.key)
            if budget is None or before.get((event.proto, event.key), 0) + event.packet < budget:
                self._stun_event(event)
        for at, bits in other.kinds.items():
            self.kinds[at] = self.kinds.get(at, 0) | bits
        for signalled in other.signalled:
            self._keep(signalled)
        for at, (seconds, samples) in other.stun_trips.items():
            trip = self.stun_trips.get(at)
            if trip is None:
                self.stun_trips[at] = [seconds, samples]
            else:
                trip[0], trip[1] = min(trip[0], seconds), trip[1] + samples
        self.inner_packets += other.inner_packets
        self.inner_bytes += other.inner_bytes
        for reason, count in other.inner_skipped.items():
            self.inner_skipped[reason] = self.inner_skipped.get(reason, 0) + count

    def look_udp_tunnel(  # noqa: PLR0917 - per tunnelled packet
        self, tunnel: Tunnel, key: bytes, data: Buf, p: int, end: int, frame: int
    ) -> None:
        """A tapped UDP packet whose ports say ``tunnel``, its payload at ``data[p:end]``."""
        self._kind(17, key, PayloadKind.TUNNEL, -1, frame)
        inner = udp_inner(tunnel, bytes(data[:end]), p, end)
        self._decapsulate(inner, data, end, 17, key, frame)

    def look_payload(  # noqa: PLR0917 - per tapped packet
        self, proto: int, key: bytes, payload: Buf, dns: bool, index: int, frame: int
    ) -> None:
        """The payload of a tapped TCP packet, or of a UDP one outside a tunnel; ``dns``: one
        of its ports is 53. It is classified as it comes (a copy of the capture's buffer):
        most are nothing to look at, and only a STUN message or an HTTP request is read on."""
        kinds = payload_kind(proto, payload, dns)
        if not kinds:
            return
        self._kind(proto, key, kinds, index, frame)
        if kinds & PayloadKind.STUN:
            message = parse_stun(bytes(payload))
            if message is not None:
                self._stun(message, proto, key, index, frame)
        elif kinds & PayloadKind.HTTP and proto == 6:
            host = http_host(bytes(payload))
            if host is not None:
                sighting = NameSighting(_address(key, server=True), host, NameSource.HTTP_HOST)
                self._sighted(sighting, proto, key, index, frame)

    def look_tunnel(  # noqa: PLR0917 - per tunnelled packet
        self, proto: int, key: bytes, data: Buf, l4: int, end: int, frame: int
    ) -> None:
        """An IP-level tunnel's packet (IP-in-IP, 6in4, GRE): decode the packet inside."""
        self._kind(proto, key, PayloadKind.TUNNEL, -1, frame)
        self._decapsulate(ip_inner(proto, bytes(data[:end]), l4, end), data, end, proto, key,
                          frame)  # fmt: skip

    def _kind(self, proto: int, key: bytes, kinds: int, index: int, frame: int) -> None:
        known = self.kinds.get((proto, key), 0)
        if kinds & ~known:
            self._sighted(KindSighting(proto, key, kinds), proto, key, index, frame)

    def _stun(self, message: StunMessage, proto: int, key: bytes, index: int, frame: int) -> None:
        # Answers and a relay's Data indications come from the server; requests and Send
        # indications go to it.
        from_server = message.message_class in (MessageClass.SUCCESS, MessageClass.ERROR) or (
            message.message_class is MessageClass.INDICATION and message.method == DATA_METHOD
        )
        server = _address(key, server=not from_server)
        client = _address(key, server=from_server)
        for kind, found in (
            (SignalledKind.RELAYED, message.relayed),
            (SignalledKind.MAPPED, message.mapped),
            (SignalledKind.PEER, message.peers),
        ):
            for address in found:
                signalled = SignalledAddress(server, client, kind, address.ip, address.port)
                self._sighted(signalled, proto, key, index, frame)
        if message.realm is not None and is_host_name(message.realm):
            realm = NameSighting(server, message.realm.lower(), NameSource.STUN_REALM)
            self._sighted(realm, proto, key, index, frame)
        self._transaction(message, proto, key, index)

    def _transaction(self, message: StunMessage, proto: int, key: bytes, index: int) -> None:
        """Note a STUN request or answer for the round trips; a range starting mid-file holds
        them back, in order, for the merge to replay as one pass would have seen them."""
        record = self.taps.get(proto, {}).get(key)
        if record is None or message.message_class is MessageClass.INDICATION:
            return
        event = StunEvent(proto, key, message.transaction_id, record[LAST_TS],
                          message.message_class is MessageClass.REQUEST, index)  # fmt: skip
        if self.orphans is None:
            self._stun_event(event)
        elif len(self.stun_events) < MAX_TRANSACTIONS:
            self.stun_events.append(event)

    def _stun_event(self, event: StunEvent) -> None:
        """A request's send time (a retransmission keeps the first: the delay is never shorter
        than the true round trip), or an answer's delay since its request."""
        proto, key, at = event.proto, event.key, event.at
        if event.request:
            if len(self.stun_open) < MAX_TRANSACTIONS:
                self.stun_open.setdefault((key, event.transaction), at)
            return
        sent = self.stun_open.pop((reverse_key(key), event.transaction), None)
        if sent is None or at < sent:
            return
        trip = self.stun_trips.get((proto, key))
        if trip is None:
            self.stun_trips[(proto, key)] = [at - sent, 1]
        else:
            trip[0] = min(trip[0], at - sent)
            trip[1] += 1

    def _decapsulate(  # noqa: PLR0917 - per tunnelled packet
        self, inner: Inner | None, data: Buf, end: int, proto: int, key: bytes, frame: int
    ) -> None:
        """Count the packet inside a tunnel's like any other, at the outer packet's time."""
        from auditor.capture.decode import decode_inner  # decode.py builds on the flow table

        record = self.taps.get(proto, {}).get(key)
        if inner is None or record is None:
            return
        if self.depth >= MAX_DEPTH:
            self.skip(TOO_DEEP)
            return
        self.depth += 1
        try:
            decode_inner(cast("FlowTable", self), inner, bytes(data[:end]), record[LAST_TS], frame)
        finally:
            self.depth -= 1


def _address(key: bytes, *, server: bool) -> str:
    """The destination (server=True) or source address of a direction key, as text."""
    import ipaddress

    width = 4 if len(key) == 12 else 16
    raw = key[width : 2 * width] if server else key[:width]
    return str(ipaddress.ip_address(raw))
