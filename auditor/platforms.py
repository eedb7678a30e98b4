"""The platform stage: each located server endpoint with its platform, what that rested on, and
its roles (attribution.py and roles.py decide them; this applies them to every endpoint)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from itertools import compress, repeat
from operator import is_not

from auditor.attribution import PLATFORM_ASNS, attribute_endpoint
from auditor.endpoints import Attributed, ServerTable
from auditor.model import PayloadKind, Role, ServerEndpoint
from auditor.platform_ranges import bundled_ranges
from auditor.roles import endpoint_roles

# Roles follow from (payloads, ports, platform, named): endpoints alike share one tuple of claims.
_roles = functools.lru_cache(maxsize=4096)(endpoint_roles)
# PLATFORM_ASNS, asked of a known ASN or None (no platform: no ASN is None).
_PLATFORM_OF_ASN: dict[int | None, str] = dict(PLATFORM_ASNS.items())


def attributed_endpoints(
    endpoints: list[ServerEndpoint] | ServerTable, asns: Iterable[int | None]
) -> list[ServerEndpoint]:
    """Every endpoint with its platform and roles, in order; ``asns``: each one's ASN, in the
    same order (None: not known). A list is replaced in place and given back (a million
    endpoints are never held twice); a capture's table makes each endpoint once."""
    if isinstance(endpoints, ServerTable):
        return endpoints.made(_table_claims(endpoints, asns))
    for index, asn in enumerate(asns):
        endpoints[index] = attributed(endpoints[index], asn)
    return endpoints


def attributed(endpoint: ServerEndpoint, asn: int | None) -> ServerEndpoint:
    """The endpoint with its platform, what that rested on, and its roles; the same object
    when that changes nothing (a copy of each of a million endpoints doubles them a moment)."""
    platform, basis, roles = _claims(
        endpoint.hostnames, endpoint.ip, asn, endpoint.ports, endpoint.payloads
    )
    if endpoint.roles:  # signalled (a STUN/TURN message named it): that is what it is known as
        roles = tuple(claim for claim in roles if claim.role is not Role.UNKNOWN)
        roles = tuple(dict.fromkeys((*endpoint.roles, *roles)))
    # else: endpoint_roles gives one claim per role, each once.
    if (platform, basis, roles) == (endpoint.platform, endpoint.platform_basis, endpoint.roles):
        return endpoint
    return endpoint.attributed(platform, basis, roles)


def _claims(
    names: tuple[str, ...], ip: str, asn: int | None, ports: tuple[str, ...],
    payloads: PayloadKind,
) -> Attributed:  # fmt: skip
    found = attribute_endpoint(names, ip, asn, ports)
    roles = _roles(
        payloads, ports, found.platform if found else None,
        named_platform=found is not None and found.names_platform,
    )  # fmt: skip
    return (found.label, found.basis, roles) if found else (None, None, roles)


def _table_claims(table: ServerTable, asns: Iterable[int | None]) -> list[Attributed]:
    """What each endpoint of a table is given (a table's carry no signalled roles). Endpoints
    without a name are given what attribution and roles make of one of those alike in the
    four things they read of it: its published range, the platform of its ASN when no range
    holds it, its ports and its payload kinds (a name, when seen, decides before the rest)."""
    ips, ports, bits = table.ips, table.ports, table.payloads()
    known = list(asns)
    rows = bundled_ranges().rows_of(table.keys)
    # The ASN is read only when no range answers, as attribute() reads it: by maps, and a
    # loop over the few a range answers for (a loop over all cost ~0.015 s of 100k).
    platforms = list(map(_PLATFORM_OF_ASN.get, known))
    for index in compress(range(len(rows)), map(is_not, rows, repeat(None))):
        platforms[index] = None
    alike = list(zip(rows, platforms, ports, bits, strict=True))
    one_of = dict(zip(alike, range(len(alike)), strict=True))
    claims = {
        key: _claims((), ips[index], known[index], ports[index], PayloadKind(bits[index]))
        for key, index in one_of.items()
    }
    given = list(map(claims.__getitem__, alike))
    for index in compress(range(len(ips)), table.hostnames):
        given[index] = _claims(table.hostnames[index], ips[index], known[index], ports[index],
                               PayloadKind(bits[index]))  # fmt: skip
    return given
