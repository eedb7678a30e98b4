"""Builds AuditResult objects straight from the model dataclasses, for every report test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from auditor.addresses import AddressClass
from auditor.model import (
    AttributionBasis,
    AuditResult,
    CaptureSummary,
    CountryAnswer,
    DatabaseInfo,
    Finding,
    Judgement,
    Location,
    LocationFlag,
    Policy,
    Role,
    RoleClaim,
    ServerEndpoint,
    ServerReason,
    Sighting,
    Verdict,
)
from auditor.policy import judge, parse_policy
from auditor.report.interface import RenderOptions

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
FIXED = RenderOptions(width=160, color=True, generated_at=datetime(2026, 1, 2, tzinfo=UTC))
PLAIN = replace(FIXED, color=False)


def policy(allow: str = "US,EU", deny: str = "", **kwargs: object) -> Policy:
    return parse_policy([allow] if allow else [], [deny] if deny else [], **kwargs)  # type: ignore[arg-type]


def endpoint(ip: str, **kwargs: object) -> ServerEndpoint:
    values: dict[str, object] = {
        "ip": ip,
        "packets": 100,
        "bytes": 64_000,
        "flows": 1,
        "ports": ("443/tcp",),
        "protocols": ("tcp",),
        "first_seen": T0,
        "last_seen": T0 + 60,
        "first_frame": 1,
        "reason": ServerReason.SYN,
        "captures": ("meeting.pcapng",),
    }
    values.update(kwargs)
    return ServerEndpoint(**values)  # type: ignore[arg-type]


def finding(ep: ServerEndpoint, loc: Location, pol: Policy | None = None) -> Finding:
    return Finding(ep, loc, judge(loc, pol or policy()))


def capture(path: str = "meeting.pcapng", **kwargs: object) -> CaptureSummary:
    values: dict[str, object] = {
        "path": path,
        "format": "pcapng",
        "compressed": False,
        "link_types": (1,),
        "packets": 1234,
        "ip_packets": 1200,
        "ip_bytes": 900_000,
        "skipped": {"ethertype 0x0806": 34},
        "warnings": (),
        "complete": True,
        "first_seen": T0,
        "last_seen": T0 + 120,
        "flows": 7,
    }
    values.update(kwargs)
    return CaptureSummary(**values)  # type: ignore[arg-type]


def database(**kwargs: object) -> DatabaseInfo:
    values: dict[str, object] = {
        "path": "/usr/share/GeoIP/GeoLite2-City.mmdb",
        "database_type": "GeoLite2-City",
        "build_epoch": 1_766_000_000,
        "attribution": "GeoLite2 data created by MaxMind, CC BY-SA 4.0",
    }
    values.update(kwargs)
    return DatabaseInfo(**values)  # type: ignore[arg-type]


def sample_findings(pol: Policy | None = None) -> tuple[Finding, ...]:
    """One of each verdict and each kind of uncertainty."""
    return (
        finding(
            endpoint(
                "198.51.100.7",
                hostnames=("zoom.us", "us05web.zoom.us"),
                platform="Zoom",
                platform_basis=AttributionBasis.NAME,
                roles=(RoleClaim(Role.SIGNALLING, "tls to a Zoom server"),),
                bytes=900_000,
            ),
            Location(
                "198.51.100.7",
                country="US",
                registered_country="US",
                city="San Jose",
                asn=30103,
                org="Zoom Video Communications, Inc.",
            ),
            pol,
        ),
        finding(
            endpoint(
                "203.0.113.50",
                ports=("3478/udp", "8801/udp"),
                protocols=("udp",),
                roles=(RoleClaim(Role.MEDIA, "rtp"), RoleClaim(Role.STUN, "stun message")),
                flows=3,
                first_frame=42,
            ),
            Location(
                "203.0.113.50",
                country="CN",
                registered_country="CN",
                city="Beijing",
                asn=4134,
                org="CHINANET-BACKBONE",
            ),
            pol,
        ),
        finding(
            endpoint("2001:db8::53", packets=4, bytes=400, ports=("53/udp",), protocols=("udp",)),
            Location(
                "2001:db8::53",
                country="DE",
                registered_country="US",
                is_anycast=True,
                flags=(LocationFlag.ANYCAST, LocationFlag.REGISTERED_ELSEWHERE),
            ),
            pol,
        ),
        finding(
            endpoint("192.0.2.77", packets=10, bytes=1_500),
            Location("192.0.2.77", answers=(CountryAnswer("a.mmdb", None, None),)),
            pol,
        ),
        finding(
            endpoint("10.1.2.3", packets=2, bytes=120, ports=("80/tcp",)),
            Location("10.1.2.3", address_class=AddressClass.PRIVATE),
            pol,
        ),
        finding(
            endpoint("198.51.100.99", packets=7, bytes=7_000),
            Location(
                "198.51.100.99",
                country="FR",
                registered_country="FR",
                answers=(CountryAnswer("a.mmdb", "FR", "FR"), CountryAnswer("b.mmdb", "US", "US")),
                flags=(LocationFlag.DISPUTED,),
            ),
            pol,
        ),
    )


def sample_result(**kwargs: object) -> AuditResult:
    pol = policy()
    values: dict[str, object] = {
        "captures": (capture(),),
        "databases": (database(),),
        "policy": pol,
        "findings": sample_findings(pol),
    }
    values.update(kwargs)
    return AuditResult(**values)  # type: ignore[arg-type]


def with_org(org: str) -> AuditResult:
    """A one-endpoint result whose organisation name is the given (possibly hostile) string."""
    loc = Location("203.0.113.50", country="CN", asn=4134, org=org, city=org)
    ep = endpoint("203.0.113.50", hostnames=(org,))
    return sample_result(findings=(finding(ep, loc),))


def judgement(verdict: Verdict, reason: str) -> Judgement:
    return Judgement(verdict, reason)


MONDAY, TUESDAY = "captures/monday.pcapng", "captures/tuesday.pcapng"


def batch_result(**kwargs: object) -> AuditResult:
    """Two captures: the relay in China only on Monday, Zoom on both days (each day's own
    counts, frames and times), an unplaced address only on Tuesday."""
    pol = policy()
    both = (
        Sighting(MONDAY, 60, 500_000, 1, T0, T0 + 60, 12),
        Sighting(TUESDAY, 40, 400_000, 1, T0 + 86_400, T0 + 86_460, 3),
    )
    zoom = endpoint("198.51.100.7", hostnames=("zoom.us",), platform="Zoom", bytes=900_000,
                    flows=2, first_frame=12, last_seen=T0 + 86_460, captures=(MONDAY, TUESDAY),
                    sightings=both)
    relay = endpoint("203.0.113.50", ports=("8801/udp",), protocols=("udp",), first_frame=42,
                     captures=(MONDAY,))
    unplaced = endpoint("192.0.2.77", packets=10, bytes=1_500, first_seen=T0 + 86_400,
                        last_seen=T0 + 86_410, first_frame=9, captures=(TUESDAY,))
    findings = (
        finding(zoom, Location("198.51.100.7", country="US", registered_country="US",
                               asn=30103, org="Zoom Video Communications, Inc."), pol),
        finding(relay, Location("203.0.113.50", country="CN", registered_country="CN",
                                asn=4134, org="CHINANET-BACKBONE"), pol),
        finding(unplaced, Location("192.0.2.77"), pol),
    )
    values: dict[str, object] = {
        "captures": (capture(MONDAY), capture(TUESDAY, first_seen=T0 + 86_400,
                                             last_seen=T0 + 86_520)),
        "databases": (database(),),
        "policy": pol,
        "findings": findings,
    }
    values.update(kwargs)
    return AuditResult(**values)  # type: ignore[arg-type]
