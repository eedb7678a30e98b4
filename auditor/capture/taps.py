"""Names from the first packets of each direction: DNS answers, TLS and QUIC ClientHellos
(gathered when split over segments or datagrams), and the sightings a byte range holds back."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Final

from auditor.capture.records import PACKETS, KindSighting, Orphan, Pending, Record, Sighting
from auditor.capture.wiretaps import (
    MAX_SIGNALLED,
    TCP_TAP_PACKETS,
    TUNNEL_PROTOCOLS,
    WireTaps,
    wire_budget,
)
from auditor.model import NameSighting, NameSource, SignalledAddress
from auditor.names import client_hello_sni, dns_names, tls_sni
from auditor.quic import ClientHelloCrypto, is_client_initial
from auditor.tunnels import UDP_TUNNEL_WIRE_PORTS

if TYPE_CHECKING:
    from auditor.capture.flowtable import FlowTable

# Names. A directional flow is "tapped" when its payloads may name a server: UDP from port 53
# (DNS answers), TCP (a TLS ClientHello's server_name) and UDP to port 443 (the same, in QUIC
# Initials; see QUIC_TAP_PACKETS). A tapped record lives in
# ``FlowTable.taps``, not in ``tables``, so the fast path misses it and hands the packet to
# add(), which says whether to look at the payload; every other packet pays nothing for names.
# TCP is looked at for the first TAP_PACKETS packets of each direction only (a ClientHello is
# the client's first payload, after SYN and ACK, with room for retransmissions); a budget that
# depends only on the direction's packet count lets a byte range starting mid-file decide at
# the merge, exactly, which of its sightings one pass would have made.
TAP_PACKETS: Final = TCP_TAP_PACKETS
DNS_PORT: Final = b"\x00\x35"
# QUIC: UDP to port 443 is looked at for the first QUIC_TAP_PACKETS packets of each direction
# (the client's Initials, with the ClientHello in their CRYPTO frames, come first; a
# post-quantum hello spans two). Meet's media may run on 443/udp too: after these few packets
# its direction goes back to the fast path. A ClientHello over several datagrams is gathered
# like a split TCP one, in the same buffers (keyed by QUIC_GATHER + the direction's key, so
# that a TCP and a UDP direction with the same addresses and ports stay apart), and a buffer
# still open when the budget is spent is dropped.
QUIC_PORT: Final = b"\x01\xbb"
QUIC_TAP_PACKETS: Final = 4
QUIC_GATHER: Final = b"\x11"
MAX_NAMES: Final = 100_000  # distinct sightings kept; beyond, a warning (names are <= 253 bytes)
MAX_PENDING: Final = 4 * MAX_NAMES  # sightings a mid-file range holds back for the merge
TLS_HANDSHAKE: Final = 0x16
# A ClientHello longer than its first segment (post-quantum key shares make ~1.8 KB hellos that
# span two segments, with the server_name often in the second) is gathered from the direction's
# following segments while the direction is still within TAP_PACKETS; a buffer still open when
# the direction's packet count reaches TAP_PACKETS is dropped, so every segment of a hello has
# to be among the first TAP_PACKETS - 1. Segments are placed by TCP sequence number: one at the
# expected number is appended, one that repeats bytes already held contributes only its new
# bytes (a retransmission adds nothing), one beyond a gap is held aside until the gap fills. A
# hello spanning several TLS records is not gathered (none is in practice).
MAX_HELLO: Final = 5 + 16_384  # a TLS record: header and the largest plaintext fragment
MAX_HELLOS: Final = 1_024  # open buffers at once; beyond, a warning (and one-pass reading)
HELLOS_FULL: Final = (
    f"more than {MAX_HELLOS} TLS ClientHellos split over segments or datagrams at once: "
    "later ones not read"
)
SEQ_MASK: Final = 0xFFFFFFFF
Buf = bytes | bytearray


class Hello:
    """A TLS ClientHello record being gathered from the segments of one TCP direction."""

    __slots__ = ("data", "held", "need", "next_seq")

    def __init__(self, seq: int, need: int, first: Buf) -> None:
        self.data = bytearray(first)
        self.need = need
        self.next_seq = (seq + len(first)) & SEQ_MASK
        self.held: dict[int, bytes] = {}  # segments beyond a gap, by sequence number

    def add(self, seq: int, payload: Buf) -> bool:
        """Place one more segment; True once the record is whole."""
        if not self._place(seq, payload):
            if len(self.held) < TAP_PACKETS and (seq - self.next_seq) & SEQ_MASK < MAX_HELLO:
                self.held[seq] = bytes(payload)
            return False
        while self.held and len(self.data) < self.need:
            for held_seq in list(self.held):
                if self._place(held_seq, self.held[held_seq]):
                    del self.held[held_seq]
                    break
            else:
                break
        return len(self.data) >= self.need

    def _place(self, seq: int, payload: Buf) -> bool:
        """Append the bytes of a segment that are new; False when it lies beyond a gap."""
        ahead = (seq - self.next_seq) & SEQ_MASK
        if ahead and ahead < 1 << 31:
            return False
        skip = (self.next_seq - seq) & SEQ_MASK
        if skip < len(payload):
            self.data += payload[skip:]
            self.next_seq = (seq + len(payload)) & SEQ_MASK
        return True

    def record(self) -> bytes:
        return bytes(self.data[: self.need])


Gathering = Hello | ClientHelloCrypto  # a ClientHello being gathered: TCP, or QUIC Initials


class NameTaps(WireTaps):
    """The flow table's name taps (a part of FlowTable, in a room of its own)."""

    # No __slots__ here: FlowTable lists them all (mypy refuses assignments in a mixin with
    # empty slots); the attributes are declared for the type checker only.
    tables: dict[int, dict[bytes, Record]]
    taps: dict[int, dict[bytes, Record]]
    hellos: dict[bytes, Gathering]
    hello_peak: int
    hellos_full: bool
    warnings: list[str]
    orphans: list[Orphan] | None
    pending: dict[Pending, None]
    sightings: dict[NameSighting, None]
    kinds: dict[tuple[int, bytes], int]
    signalled: dict[SignalledAddress, None]
    names_dropped: bool

    def look(  # noqa: PLR0917 - called per tapped packet by both paths
        self, proto: int, key: bytes, data: Buf, l4: int, end: int, index: int, frame: int
    ) -> None:
        """Note the names in a tapped, unfragmented packet whose transport header is at
        ``data[l4]`` and whose IP packet ends at ``data[end]`` (or where the capture cut it)."""
        if proto == 17:
            # Every packet of a young UDP direction comes here: its ports are sliced once.
            sport, dport = key[-4:-2], key[-2:]
            if sport == DNS_PORT:
                for name, address, chained in dns_names(bytes(data[l4 + 8 : end])):
                    source = NameSource.CNAME if chained else NameSource.DNS
                    self._sighted(NameSighting(address, name, source), 17, key, -1, frame)
            elif dport == QUIC_PORT and index < QUIC_TAP_PACKETS:
                self._look_quic(key, bytes(data[l4 + 8 : end]), index, frame)
            tunnel = UDP_TUNNEL_WIRE_PORTS.get(dport) or UDP_TUNNEL_WIRE_PORTS.get(sport)
            if tunnel is not None:  # as udp_tunnel_of(key)
                self.look_udp_tunnel(tunnel, key, data, l4 + 8, end, frame)
            else:
                dns = DNS_PORT in (sport, dport)
                self.look_payload(17, key, data[l4 + 8 : end], dns, index, frame)
            return
        if proto in TUNNEL_PROTOCOLS:
            self.look_tunnel(proto, key, data, l4, end, frame)
            return
        if end - l4 < 13:
            return
        p = l4 + (data[l4 + 12] >> 4) * 4
        if p - l4 < 20 or p >= end:
            return
        dns = key[-4:-2] == DNS_PORT or key[-2:] == DNS_PORT
        self.look_payload(6, key, data[p:end], dns, index, frame)
        hellos = self.hellos
        if hellos:
            hello = hellos.get(key)
            if isinstance(hello, Hello):
                if hello.add(int.from_bytes(data[l4 + 4 : l4 + 8], "big"), data[p:end]):
                    del hellos[key]
                    self._sni(hello.record(), key, index + 1, frame)
                return
        if data[p] != TLS_HANDSHAKE:
            return
        if end - p >= 6 and data[p + 5] == 1:  # a ClientHello: is its record whole?
            need = 5 + ((data[p + 3] << 8) | data[p + 4])
            if need > end - p:
                if need <= MAX_HELLO and index + 1 < TAP_PACKETS:
                    self._open_hello(key, int.from_bytes(data[l4 + 4 : l4 + 8], "big"), need,
                                     data[p:end])  # fmt: skip
                return
        self._sni(bytes(data[p:end]), key, index, frame)

    def _look_quic(self, key: bytes, datagram: bytes, index: int, frame: int) -> None:
        """A tapped UDP datagram to port 443: the client's Initials, with its ClientHello."""
        gather_key = QUIC_GATHER + key
        gather = self.hellos.get(gather_key) if self.hellos else None
        if not isinstance(gather, ClientHelloCrypto):
            if not is_client_initial(datagram):
                return
            gather = ClientHelloCrypto()
            whole = gather.add(datagram)
            if whole is False:
                if gather.dcid is not None and index + 1 < QUIC_TAP_PACKETS:
                    self._open_gathering(gather_key, gather)
                return
        else:
            whole = gather.add(datagram)
            if whole is False:
                return
            del self.hellos[gather_key]
            index += 1  # see _sighted
        if whole:
            server_name = client_hello_sni(gather.client_hello())
            if server_name:
                server = _address_text(key[4:8] if len(key) == 12 else key[16:32])
                sighting = NameSighting(server, server_name, NameSource.SNI)
                self._sighted(sighting, 17, key, index, frame)

    def _sni(self, record: bytes, key: bytes, index: int, frame: int) -> None:
        server_name = tls_sni(record)
        if server_name:
            server = _address_text(key[4:8] if len(key) == 12 else key[16:32])
            self._sighted(NameSighting(server, server_name, NameSource.SNI), 6, key, index, frame)

    def _open_hello(self, key: bytes, seq: int, need: int, first: Buf) -> None:
        self._open_gathering(key, Hello(seq, need, first))

    def _open_gathering(self, key: bytes, gathering: Gathering) -> None:
        if len(self.hellos) >= MAX_HELLOS:
            if not self.hellos_full:
                self.hellos_full = True
                self.warnings.append(HELLOS_FULL)
            return
        self.hellos[key] = gathering
        self.hello_peak = max(self.hello_peak, len(self.hellos))

    def continues_hellos(self, later: FlowTable) -> bool:
        """Whether a later range saw a direction that has a hello open at this one's end (it
        gathered that direction's segments or datagrams from nothing, so it must be read
        again)."""
        for gather_key in self.hellos:
            proto, key = _gathered(gather_key)
            if key in later.taps.get(proto, {}) or key in later.tables.get(proto, {}):
                return True
        return False

    def _merge_hellos(self, other: FlowTable) -> None:
        """Hellos open at the end of ``other`` as one pass would hold them: ``other`` did not
        see the directions of this table's open hellos (or was read on from them), and one of
        its own is gone in one pass if its direction has used up its TAP_PACKETS there."""
        self.hellos_full = self.hellos_full or other.hellos_full
        self.hellos.update(other.hellos)
        for gather_key in list(self.hellos):
            proto, key = _gathered(gather_key)
            record = self.tables.get(proto, {}).get(key)
            if record is not None and record[PACKETS] >= _budget(proto):
                del self.hellos[gather_key]
        other.hellos = {}

    def _sighted(
        self, sighting: Sighting, proto: int, key: bytes, index: int, frame: int
    ) -> None:
        """Keep a sighting, or hold it back for the merge with the packet index that decides
        it there. A hello gathered over packets passes its last packet's index plus one: one
        pass drops the buffer as that packet arrives if it is the direction's last looked at
        (so the hello is read only if index + 1 is within the budget), where a range reading
        from mid-file, not knowing the count before it, keeps it."""
        if self.orphans is None:
            self._keep(sighting)
        elif len(self.pending) < MAX_PENDING:
            self.pending[Pending(sighting, proto, key, index, frame)] = None
        else:
            self.names_dropped = True

    def _keep(self, sighting: Sighting) -> None:
        if isinstance(sighting, KindSighting):
            at = (sighting.proto, sighting.key)
            self.kinds[at] = self.kinds.get(at, 0) | sighting.kinds
            return
        if isinstance(sighting, SignalledAddress):
            if len(self.signalled) < MAX_SIGNALLED:
                self.signalled[sighting] = None
            else:
                self.names_dropped = True
            return
        if sighting in self.sightings:
            return
        if len(self.sightings) >= MAX_NAMES:
            self.names_dropped = True
            return
        self.sightings[sighting] = None

    def names(self) -> tuple[NameSighting, ...]:
        self._settle_pending(self.tables, {}, {})  # a range read alone: nothing before it
        return tuple(self.sightings)

    def _settle_pending(
        self,
        tables: dict[int, dict[bytes, Record]],
        before: dict[tuple[int, bytes], int],
        placed: dict[tuple[int, bytes], list[int]],
    ) -> None:
        """Keep the held-back sightings one pass would have made.

        ``tables``: the merged flow table, which the sighting's flow must be in (one pass does
        not look into a flow that overflowed the table); ``before``: each TCP direction's
        packets in the ranges before this one; ``placed``: the frames of this range's held-back
        fragments counted into each direction at the merge.
        """
        for sighting, proto, key, index, frame in self.pending:
            if key not in tables.get(proto, {}):
                continue
            if index >= 0:
                earlier = sum(1 for f in placed.get((proto, key), ()) if f < frame)
                budget = _looked_at(sighting, proto, key)
                if before.get((proto, key), 0) + earlier + index >= budget:
                    continue
            self._keep(sighting)
        self.pending = {}


def _looked_at(sighting: Sighting, proto: int, key: bytes) -> int:
    """How many of a direction's first packets could have made this sighting: a QUIC
    ClientHello's, QUIC_TAP_PACKETS; anything else, the direction's own tap budget."""
    if proto == 17 and isinstance(sighting, NameSighting) and sighting.source is NameSource.SNI:
        return QUIC_TAP_PACKETS
    budget = wire_budget(proto, key)
    return 1 << 62 if budget is None else budget


def _budget(proto: int) -> int:
    """The packets of a direction that are looked at (DNS sightings have no budget)."""
    return TAP_PACKETS if proto == 6 else QUIC_TAP_PACKETS


def _gathered(gather_key: bytes) -> tuple[int, bytes]:
    """The protocol and direction key of a gathering buffer's key."""
    if len(gather_key) in (12, 36):
        return 6, gather_key
    return 17, gather_key[1:]


def _address_text(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw))
