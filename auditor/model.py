"""The plain, frozen records passed between the pipeline's stages.

read (a capture or other connection metadata) -> flows and names (DNS answers, TLS SNI) ->
server endpoints (with their names, payloads and roles) -> locate -> evidence (round trips,
vantage, hostname hints: evidence_records.py) -> platform attribution and roles
(role_records.py) -> judge (policy_records.py) -> report. Every stage takes and returns these;
only the readers at the start and the writers at the end do I/O. Addresses are kept as their
canonical text form (``ipaddress`` compressed form) so that every stage and every output format
agrees on one spelling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from auditor.addresses import AddressClass

# ExitStatus is defined with the command line (cli/status.py), the evidence, role and policy
# records in rooms of their own; all are re-exported here for the stages and the users that
# import them from the model.
from auditor.cli.status import ExitStatus as ExitStatus  # noqa: PLC0414 - explicit re-export
from auditor.evidence_records import Evidence as Evidence  # noqa: PLC0414 - re-export
from auditor.evidence_records import EvidenceSource as EvidenceSource  # noqa: PLC0414 - re-export
from auditor.evidence_records import HintSource as HintSource  # noqa: PLC0414 - re-export
from auditor.evidence_records import HostnameHint as HostnameHint  # noqa: PLC0414 - re-export
from auditor.evidence_records import PhysicsBound as PhysicsBound  # noqa: PLC0414 - re-export
from auditor.evidence_records import Refutation as Refutation  # noqa: PLC0414 - re-export
from auditor.evidence_records import RoundTrip as RoundTrip  # noqa: PLC0414 - re-export
from auditor.evidence_records import RoundTripKind as RoundTripKind  # noqa: PLC0414 - re-export
from auditor.evidence_records import Vantage as Vantage  # noqa: PLC0414 - re-export
from auditor.evidence_records import VantagePlace as VantagePlace  # noqa: PLC0414 - re-export
from auditor.evidence_records import VantageSource as VantageSource  # noqa: PLC0414 - re-export
from auditor.frozen import builder
from auditor.policy_records import Acceptance as Acceptance  # noqa: PLC0414 - re-export
from auditor.policy_records import AcceptedBy as AcceptedBy  # noqa: PLC0414 - re-export
from auditor.policy_records import Basis as Basis  # noqa: PLC0414 - re-export
from auditor.policy_records import ExceptionKind as ExceptionKind  # noqa: PLC0414 - re-export
from auditor.policy_records import JudgeBy as JudgeBy  # noqa: PLC0414 - re-export
from auditor.policy_records import Judgement as Judgement  # noqa: PLC0414 - re-export
from auditor.policy_records import Policy as Policy  # noqa: PLC0414 - re-export
from auditor.policy_records import PolicyException as PolicyException  # noqa: PLC0414 - re-export
from auditor.policy_records import RoleRule as RoleRule  # noqa: PLC0414 - re-export
from auditor.policy_records import Severity as Severity  # noqa: PLC0414 - re-export
from auditor.policy_records import Verdict as Verdict  # noqa: PLC0414 - re-export
from auditor.role_records import NO_PAYLOAD as NO_PAYLOAD  # noqa: PLC0414 - re-export
from auditor.role_records import PayloadKind as PayloadKind  # noqa: PLC0414 - re-export
from auditor.role_records import Role as Role  # noqa: PLC0414 - re-export
from auditor.role_records import RoleClaim as RoleClaim  # noqa: PLC0414 - re-export

if TYPE_CHECKING:
    from auditor.tally import Tally

T = TypeVar("T")

PROTOCOL_NAMES: Mapping[int, str] = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}


def protocol_name(number: int) -> str:
    return PROTOCOL_NAMES.get(number, f"ip-{number}")


@dataclass(frozen=True, slots=True)
class Flow:
    """One bidirectional conversation.

    Side ``a`` is the source of the first packet seen. TCP and UDP flows are keyed by the 5-tuple;
    other IP protocols per address pair, with both ports 0. Bytes are IP-layer bytes (IP header +
    payload as the IP header states them), so a capture's snap length does not change them.
    """

    protocol: int
    a: str
    a_port: int
    b: str
    b_port: int
    packets_ab: int
    packets_ba: int
    bytes_ab: int
    bytes_ba: int
    first_seen: float
    last_seen: float
    first_frame: int  # 1-based, counted as tshark counts frames; 0 from sources without frames
    syn_ab: bool = False  # a sent a bare SYN (SYN without ACK): b is listening
    syn_ba: bool = False
    # Seconds from a's first packet to b's first, when b's first can only be an answer to it:
    # a sent a bare SYN (b's first is the SYN/ACK), or a DNS query or QUIC Initial (to UDP port
    # 53 or 443, which do not speak first). The round trip from the capture point to b, plus
    # b's own delay: never less than the true round trip. None when the flow shows no such pair.
    answer_delay: float | None = None
    payloads: PayloadKind = NO_PAYLOAD  # what the payloads looked at were
    # STUN transactions: the shortest request-to-answer delay from a to b, and how many were
    # matched (b answered a's request with the same transaction ID). None/0: none seen.
    stun_delay: float | None = None
    stun_samples: int = 0
    # Seconds from b's SYN/ACK to a's ACK of it, when a opened with a bare SYN: on a capture
    # taken at b (a server), the round trip to a plus a's own delay. None: not seen.
    ack_delay: float | None = None

    @property
    def packets(self) -> int:
        return self.packets_ab + self.packets_ba

    @property
    def bytes(self) -> int:
        return self.bytes_ab + self.bytes_ba


class SourceKind(StrEnum):
    """What kind of connection metadata an input was (the `format` of its summary)."""

    PCAP = "pcap"
    PCAPNG = "pcapng"
    ZEEK = "zeek"  # conn.log (with ssl.log, dns.log), TSV or JSON
    NETFLOW = "netflow"  # NetFlow v5/v9 or IPFIX export packets
    WEBRTC = "webrtc"  # a browser's webrtc-internals dump or getStats() export


@dataclass(frozen=True, slots=True)
class CaptureSummary:
    """What reading one capture file (or other connection metadata) saw, and could not use."""

    path: str
    format: str  # a SourceKind value
    compressed: bool
    link_types: tuple[int, ...]
    packets: int  # records read
    ip_packets: int  # records that carried IPv4/IPv6 and were counted into flows
    ip_bytes: int
    flows: int  # the flows those packets made
    skipped: Mapping[str, int]  # reason ("link type 105", "ethertype 0x0806"...) -> records
    warnings: tuple[str, ...]
    complete: bool  # False when the file is damaged part-way and the rest could not be read
    first_seen: float | None = None
    last_seen: float | None = None
    # What this kind of metadata cannot show, and how its counts were made ("no server names in
    # flow export", "counts scaled by the sampling rate 1:100"): empty for packet captures.
    limits: tuple[str, ...] = ()
    # Packets no table had room for (see capture/spill.py), and the distinct addresses among
    # them that no counted flow has: never located or judged, so the capture is incomplete.
    unjudged_packets: int = 0
    unjudged_addresses: int = 0
    # Packets decoded from inside tunnels (GTP-U, VXLAN, GRE...): counted in flows of their own
    # beside their outer packets, which ip_packets counts.
    tunnelled_packets: int = 0

    @property
    def saw_traffic(self) -> bool:
        """Whether there was anything to audit: an IP packet, or a flow (flow logs may not count
        packets)."""
        return bool(self.ip_packets or self.flows)


class NameSource(StrEnum):
    DNS = "dns"  # an A/AAAA answer the client received
    SNI = "sni"  # the server_name of a TLS ClientHello the client sent
    CNAME = "cname"  # a name in the CNAME chain behind a DNS answer, in chain order
    HTTP_HOST = "http-host"  # the Host header of the first request of a plain-HTTP flow
    STUN_REALM = "stun-realm"  # the REALM a STUN/TURN server sent (its own domain)


@dataclass(frozen=True, slots=True)
class NameSighting:
    """A name the capture shows a server address was reached as. Untrusted text."""

    address: str
    name: str
    source: NameSource


@dataclass(frozen=True, slots=True)
class CaptureResult:
    summary: CaptureSummary
    flows: Sequence[Flow]  # a capture's: packed (capture/columns.py); other sources': a tuple
    names: tuple[NameSighting, ...] = ()  # deduplicated, in order of first sighting
    # Addresses the source itself says are the capture's own host (the browser of a WebRTC
    # dump); empty: the endpoint stage works them out from the flows.
    own_hosts: frozenset[str] = frozenset()
    # Addresses STUN/TURN messages named (relayed, reflexive, peers), deduplicated, in order.
    signalled: tuple[SignalledAddress, ...] = ()


class SignalledKind(StrEnum):
    """Which address a STUN/TURN message carried."""

    RELAYED = "relayed"  # XOR-RELAYED-ADDRESS: the address a TURN server allocated
    MAPPED = "mapped"  # (XOR-)MAPPED-ADDRESS: where the server saw the client come from
    PEER = "peer"  # XOR-PEER-ADDRESS: a peer the relay was asked to forward to


@dataclass(frozen=True, slots=True)
class SignalledAddress:
    """An address named in a STUN/TURN message between a client and a server."""

    server: str  # the STUN/TURN server (or ICE peer) that sent or received the message
    client: str  # the other side: for MAPPED, the address that was seen as ``address``
    kind: SignalledKind
    address: str
    port: int


class ServerReason(StrEnum):
    """Why one side of a flow was taken to be the meeting's server."""

    SYN = "syn"  # it received a bare TCP SYN
    PORT = "port"  # it used a well-known or meeting/media port against an ephemeral one
    NOT_CAPTURE_HOST = "not-capture-host"  # the other side is the capture's own host
    LOWER_PORT = "lower-port"  # nothing else told: the side with the lower port
    # Seen in signalling, no packet in the capture: an address a STUN/TURN message named (a
    # TURN relay's allocated address, the client's reflexive address, a relay's peer).
    SIGNALLED = "signalled"


class AttributionBasis(StrEnum):
    """What a platform attribution rested on, strongest first."""

    NAME = "name"
    RANGE = "range"  # in the vendor's published address list
    CLOUD_TENANT = "cloud-tenant"  # in a public cloud's customer ranges: the app is unknown
    ASN = "asn"
    PORT_HINT = "port-hint"


@dataclass(frozen=True, slots=True)
class Sighting:
    """One server endpoint as one capture shows it: where to look (frame, times) and how much."""

    capture: str
    packets: int
    bytes: int
    flows: int
    first_seen: float
    last_seen: float
    first_frame: int  # 1-based in this capture; 0 from sources without frames


@dataclass(frozen=True, slots=True)
class ServerEndpoint:
    """The server side of one or more flows, aggregated per server address."""

    ip: str
    packets: int
    bytes: int
    flows: int
    ports: tuple[str, ...]  # "443/tcp", "8801/udp", sorted
    protocols: tuple[str, ...]
    first_seen: float
    last_seen: float
    first_frame: int
    reason: ServerReason  # the strongest reason among its flows
    hostnames: tuple[str, ...] = ()
    platform: str | None = None
    captures: tuple[str, ...] = ()  # the capture files it was seen in, in the order read
    payloads: PayloadKind = NO_PAYLOAD  # OR of its flows' payload kinds
    roles: tuple[RoleClaim, ...] = ()  # what it did, strongest first; set by the audit
    platform_basis: AttributionBasis | None = None  # what the platform rested on
    # Per capture, when seen in more than one: that capture's counts, frames and times (the
    # fields above are then the totals). Empty: the one capture's are the fields above.
    sightings: tuple[Sighting, ...] = ()

    def attributed(
        self,
        platform: str | None,
        basis: AttributionBasis | None,
        roles: tuple[RoleClaim, ...],
    ) -> ServerEndpoint:
        """dataclasses.replace(self, platform=..., platform_basis=..., roles=...), written out:
        replace's field introspection cost more than the attribution, once per server (a test
        checks that every field is carried over). Built as build_server_endpoint builds, every
        field by position (auditor/frozen.py): the dataclass __init__ cost ~4 us a server."""
        return build_server_endpoint(
            self.ip,
            self.packets,
            self.bytes,
            self.flows,
            self.ports,
            self.protocols,
            self.first_seen,
            self.last_seen,
            self.first_frame,
            self.reason,
            self.hostnames,
            platform,
            self.captures,
            self.payloads,
            roles,
            basis,
            self.sightings,
        )

    def seen_in(self) -> tuple[Sighting, ...]:
        """Where this endpoint was seen, one Sighting per capture (none without a capture)."""
        if self.sightings:
            return self.sightings
        return tuple(
            Sighting(capture, self.packets, self.bytes, self.flows, self.first_seen,
                     self.last_seen, self.first_frame)
            for capture in self.captures[:1]
        )


@dataclass(frozen=True, slots=True)
class CountryAnswer:
    """What one country-bearing database says about one address."""

    database: str
    country: str | None
    registered_country: str | None
    represented_country: str | None = None
    # Where this database puts the address, when it says (City layouts): the point and the
    # radius in km it claims around it. None: not given (DB-IP Lite gives no radius at all).
    latitude: float | None = None
    longitude: float | None = None
    accuracy_radius: int | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """Every country code this answer gives, as the database spelled it."""
        given = (self.country, self.registered_country, self.represented_country)
        return tuple(code for code in given if code is not None)


class LocationFlag(StrEnum):
    """A doubt the locating stage raises about one address's place."""

    ANYCAST = "anycast"  # a database says one address is announced from many places
    REGISTERED_ELSEWHERE = "registered-elsewhere"  # located in one country, registered in another
    DISPUTED = "disputed"  # the databases name different countries
    COARSE = "coarse"  # the accuracy radius is wider than the locator's coarse limit
    DEFECTIVE = "defective"  # a database gave a country code that is no ISO 3166 alpha-2 code


@dataclass(frozen=True, slots=True)
class Location:
    """Where the databases place one address, and how sure they are."""

    ip: str
    address_class: AddressClass | None = None  # a local address: never looked up
    country: str | None = None
    registered_country: str | None = None
    represented_country: str | None = None
    city: str | None = None
    asn: int | None = None
    org: str | None = None
    is_anycast: bool = False
    accuracy_radius: int | None = None
    answers: tuple[CountryAnswer, ...] = ()  # one per country database that knew the address
    flags: tuple[LocationFlag, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.address_class is not None


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    path: str
    database_type: str
    build_epoch: int
    ip_version: int = 6
    node_count: int = 0
    description: str = ""
    attribution: str = ""  # source and licence, for the data the auditor ships


@dataclass(frozen=True, slots=True)
class Finding:
    endpoint: ServerEndpoint
    location: Location
    judgement: Judgement
    evidence: Evidence = Evidence()  # noqa: RUF009 - frozen: one shared empty Evidence is safe
    acceptance: Acceptance | None = None  # a policy exception or the baseline, when one matched

    @property
    def accepted(self) -> bool:
        return self.acceptance is not None and self.acceptance.applies

    def severity(self, policy: Policy) -> Severity | None:
        """Denied > outside the allowed list > unknown; None for allowed and local."""
        return self.judgement.severity(policy)


# The records built once per server (and per distinct database answer), by every field's value
# in order without their __init__ (auditor/frozen.py): a frozen __init__ costs a call per field.
build_country_answer = builder(CountryAnswer)
build_location = builder(Location)
build_server_endpoint = builder(ServerEndpoint)
build_finding = builder(Finding)


class OverallVerdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Summary:
    endpoints: int
    violations: int
    unknown: int
    local: int
    allowed: int
    packets: int
    bytes: int
    accepted: int = 0  # violations accepted by a current exception or the baseline


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Everything a report needs, and the decision: the verdict and exit status live here."""

    captures: tuple[CaptureSummary, ...]
    databases: tuple[DatabaseInfo, ...]
    policy: Policy
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # captures that could not be read at all
    strict_failures: tuple[str, ...] = ()  # e.g. stale database under --strict
    # What tally(), complete, summary and failing() work out over every finding, kept once:
    # every report reads the verdict, exit status and summary several times, and each pass over
    # a million findings costs a second. The result is frozen, so they cannot go stale.
    _derived: dict[str, object] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def _memo(self, name: str, work: Callable[[], T]) -> T:
        if name not in self._derived:
            self._derived[name] = work()
        return self._derived[name]  # type: ignore[return-value]

    def tally(self) -> Tally:
        """Its findings counted once per kind (auditor/tally.py)."""
        from auditor.tally import Tally

        return self._memo("tally", lambda: Tally.of(self.findings))

    def tallied(self, tally: Tally) -> AuditResult:
        """This result, counted by `tally` when that counted these very findings (a capture's
        section holding the run's findings; the audit, which counted them for its warnings)."""
        if tally.findings is self.findings:
            self._derived.setdefault("tally", tally)
        return self

    @property
    def complete(self) -> bool:
        """Every capture was read whole, something was seen (a run without one IP packet audited
        nothing), and no database answer was defective."""
        return self._memo("complete", self._complete)

    def _complete(self) -> bool:
        return (
            not self.errors
            and all(c.complete for c in self.captures)
            and any(c.saw_traffic for c in self.captures)
            and not self.tally().defective
        )

    @property
    def summary(self) -> Summary:
        return self._memo("summary", self._summary)

    def _summary(self) -> Summary:
        tally = self.tally()
        count = dict.fromkeys(Verdict, 0)
        for kind in tally.kinds:
            count[kind.judgement.verdict] += kind.count
        return Summary(
            endpoints=len(self.findings),
            violations=count[Verdict.VIOLATION],
            unknown=count[Verdict.UNKNOWN],
            local=count[Verdict.LOCAL],
            allowed=count[Verdict.ALLOWED],
            packets=tally.packets,
            bytes=tally.bytes,
            accepted=tally.count(lambda kind: kind.accepted),
        )

    def failing(self) -> tuple[Finding, ...]:
        """The findings that fail the run: at least as severe as the policy's fail_on and not
        accepted by a current exception or the baseline."""
        return self._memo("failing", lambda: self.tally().failing(self.policy))

    def _fails(self) -> bool:
        """Whether any finding fails the run (failing() without gathering them)."""
        return any(kind.fails(self.policy) for kind in self.tally().kinds)

    @property
    def verdict(self) -> OverallVerdict:
        summary = self.summary
        if self.strict_failures or self._fails():
            return OverallVerdict.FAIL
        # Fail closed: a PASS claims every server was located, judged and allowed. An endpoint
        # no database could place (or whose evidence disagrees) was not judged, so the run is
        # incomplete, never clean; --strict makes such endpoints violations instead.
        if not self.complete or summary.unknown:
            return OverallVerdict.INCOMPLETE
        return OverallVerdict.PASS

    @property
    def exit_status(self) -> ExitStatus:
        # A violation found in a damaged capture is still a violation: 1 beats 2.
        return {
            OverallVerdict.PASS: ExitStatus.OK,
            OverallVerdict.FAIL: ExitStatus.VIOLATIONS,
            OverallVerdict.INCOMPLETE: ExitStatus.ERROR,
        }[self.verdict]
