"""The capture's own host: the address in most of its flows, found without parsing any."""

from __future__ import annotations

from collections.abc import Sequence

from auditor.addresses import is_local_host
from auditor.capture.columns import Address, FlowRows
from auditor.model import Flow


def capture_hosts(flows: Sequence[Flow]) -> frozenset[str]:
    """The capture's own host(s): per IP version, the address that takes part in most flows.

    A meeting capture is taken on the client, so its address is in (nearly) every flow. We take
    the most frequent address of each IP version when it is in at least half of that version's
    flows; a dual-stack client thus has one host address per version. Ties go to the private
    address, then to the address text, so the result does not depend on flow order.
    """
    rows = FlowRows(flows)
    hosts: set[str] = set()
    for version in (4, 6):
        seen, versioned = _frequent_addresses(rows, version)
        if not versioned:
            continue
        counted = {rows.text(address): count for address, count in seen.items()}
        best = max(counted.items(), key=lambda item: (item[1], is_local_host(item[0]), item[0]))
        address, count = best
        in_most_flows = count > 1 and count * 2 >= versioned
        lone_private_flow = versioned == 1 and is_local_host(address)
        if in_most_flows or lone_private_flow:
            hosts.add(address)
    return frozenset(hosts)


FREQUENT_CANDIDATES = 8


def _frequent_addresses(rows: FlowRows, version: int) -> tuple[dict[Address, int], int]:
    """The exact flow counts of the only addresses that can be in half of one IP version's
    flows, and how many flows that version has, in constant memory (a million servers must not
    cost a million counters): Misra and Gries's frequent-items pass keeps every address that is
    in more than 1/(k+1) of the sightings, and a host is in at least 1/4 of them (a flow gives
    two); a second pass counts those candidates exactly. Addresses stay as the rows hold them
    (raw bytes from a capture): none is parsed."""
    candidates: dict[Address, int] = {}
    for _proto, group_version, group in rows.groups():
        if group_version != version:
            continue
        for row in group:
            a, b = row[0], row[1]
            for address in (a, b) if b != a else (a,):
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
    for _proto, group_version, group in rows.groups():
        if group_version != version:
            continue
        for row in group:
            versioned += 1
            a, b = row[0], row[1]
            if a in exact:
                exact[a] += 1
            if b != a and b in exact:
                exact[b] += 1
    return exact, versioned
