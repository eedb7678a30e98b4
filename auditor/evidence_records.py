"""The evidence stage's records: round trips, the vantage, hostname hints, what physics rules
out; re-exported by auditor.model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RoundTripKind(StrEnum):
    TCP_HANDSHAKE = "tcp-handshake"  # the client's bare SYN to the server's SYN/ACK
    DNS = "dns"  # a query to the first answer from port 53
    QUIC = "quic"  # a packet to UDP port 443 to the server's first packet
    STUN = "stun"  # a STUN request to its answer (the same transaction ID)
    TCP_SERVER_SIDE = "tcp-synack-ack"  # on the server: its SYN/ACK to the client's ACK


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """The shortest request-to-answer delay one capture shows for one server, of one kind."""

    capture: str
    kind: RoundTripKind
    seconds: float  # the minimum over the samples
    samples: int


class VantageSource(StrEnum):
    """Where the capture point's place came from."""

    GIVEN = "given"  # --vantage
    POLICY = "policy"  # the policy file's vantage
    HOST_ADDRESS = "host-address"  # the capture host's own public address, located
    STUN_MAPPED = "stun-mapped"  # the host's address as STUN servers saw it (mapped), located


class VantagePlace(StrEnum):
    """What a vantage's point and radius were taken from."""

    COORDINATES = "coordinates"  # lat,lon as given
    SITE = "site"  # a city of the hint sites (auditor/data/hints.json)
    DBIP_CITY = "dbip-city"  # a city name in DB-IP's data, radius widened by its spread
    COUNTRY = "country"  # somewhere in a country: its main landmass as a disk


@dataclass(frozen=True, slots=True)
class Vantage:
    """Where a capture was taken, as a disk: somewhere within radius_km of the point."""

    latitude: float
    longitude: float
    radius_km: float
    source: VantageSource
    label: str  # as given ("SE", "Amsterdam", "59.3,18.1") or the address located; untrusted
    capture: str | None = None  # None: every capture of the run
    place: VantagePlace = VantagePlace.COORDINATES


class HintSource(StrEnum):
    SNI = "sni"
    DNS = "dns"
    CNAME = "cname"  # a name in the CNAME chain behind a DNS answer
    HTTP_HOST = "http-host"
    STUN_REALM = "stun-realm"


@dataclass(frozen=True, slots=True)
class HostnameHint:
    """A place a vendor's naming gives for a server: evidence, never alone a verdict."""

    name: str  # the host name that matched (untrusted)
    vendor: str
    code: str  # the site code in the name ("am", "ams", "westeurope")
    place: str  # the site's city or region
    country: str
    latitude: float
    longitude: float
    source: HintSource
    refuted: bool = False


class EvidenceSource(StrEnum):
    DATABASE = "database"
    HINT = "hint"


@dataclass(frozen=True, slots=True)
class Refutation:
    """A country some source gave that the round trips rule out."""

    source: EvidenceSource
    what: str  # the database path or the host name
    country: str
    distance_km: float  # from the vantage to the nearest part of the country
    bound_km: float  # the farthest the server can be from the vantage
    capture: str


@dataclass(frozen=True, slots=True)
class PhysicsBound:
    """Where the round trips allow a server to be: countries within reach of the vantage."""

    capture: str
    vantage: Vantage
    round_trip: RoundTrip
    radius_km: float  # the disk around the vantage, widened by its radius and the outlines'
    countries: frozenset[str]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything known about where one endpoint is, and what physics rules out."""

    round_trips: tuple[RoundTrip, ...] = ()
    bounds: tuple[PhysicsBound, ...] = ()  # one per capture with a vantage and a round trip
    hints: tuple[HostnameHint, ...] = ()
    refutations: tuple[Refutation, ...] = ()
    set_aside: tuple[str, ...] = ()  # why some round trips were not used

    @property
    def possible(self) -> frozenset[str] | None:
        """The countries every bound allows (None: no bound)."""
        if not self.bounds:
            return None
        return frozenset.intersection(*(b.countries for b in self.bounds))
