"""The capture's own host: the address in most of its flows, found without parsing any."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from itertools import compress
from operator import eq, itemgetter

from auditor.addresses import is_local_host
from auditor.capture.columns import Address, FlowRows
from auditor.model import Flow

# A batch of flows is counted per address pair when the pairs of its first PAIR_SAMPLE flows
# repeat (a port scan: one pair), and up to MAX_KEPT of its pair counts are kept for the
# second pass, which then need not read the rows again.
PAIR_SAMPLE = 256
MAX_KEPT = 1024


def capture_hosts(flows: Sequence[Flow]) -> frozenset[str]:
    """The capture's own host(s): per IP version, the address that takes part in most flows.

    A meeting capture is taken on the client, so its address is in (nearly) every flow. We take
    the most frequent address of each IP version when it is in at least half of that version's
    flows; a dual-stack client thus has one host address per version. Ties go to the private
    address, then to the address text, so the result does not depend on flow order.
    """
    rows = FlowRows(flows)
    hosts: set[str] = set()
    seen, versioned = _frequent_addresses(rows)
    for version in (4, 6):
        if not versioned[version]:
            continue
        counted = {rows.text(address): count for address, count in seen[version].items()}
        if not counted:  # the summary kept none: no address is in half the flows (see below)
            continue
        best = max(counted.items(), key=lambda item: (item[1], is_local_host(item[0]), item[0]))
        address, count = best
        in_most_flows = count > 1 and count * 2 >= versioned[version]
        lone_private_flow = versioned[version] == 1 and is_local_host(address)
        if in_most_flows or lone_private_flow:
            hosts.add(address)
    return frozenset(hosts)


FREQUENT_CANDIDATES = 8


def _frequent_addresses(rows: FlowRows) -> tuple[dict[int, dict[Address, int]], dict[int, int]]:
    """Per IP version, the exact flow counts of the only addresses that can be in half of its
    flows, and how many flows it has, in bounded memory (a million servers must not cost a
    million counters): Misra and Gries's frequent-items summary keeps every address that is in
    more than 1/(k+1) of the sightings, and a host is in at least 1/4 of them (a flow gives
    two); a second pass counts those candidates exactly. The summary is built a batch of
    flows at a time (a packed chunk: only its address columns unpacked), each batch counted
    exactly at C speed and merged into it (see _merged). A batch of few address pairs (a port
    scan's: one) is counted per pair, and those counts are kept for the second pass: when
    every batch is, the rows are not read again.
    Addresses stay as the rows hold them (raw bytes from a capture): none is parsed."""
    summaries: dict[int, dict[Address, int]] = {4: {}, 6: {}}
    kept: list[tuple[int, Counter[tuple[Address, Address]] | None]] = []
    versioned = {4: 0, 6: 0}
    for version, batch in rows.address_pairs():
        versioned[version] += len(batch)
        pairs = _pair_counts(batch)
        summaries[version] = _merged(summaries[version], _sightings(batch, pairs))
        kept.append((version, pairs if pairs is not None and len(pairs) <= MAX_KEPT else None))
    exact = {version: dict.fromkeys(summary, 0) for version, summary in summaries.items()}
    if all(pairs is not None for _version, pairs in kept):
        for version, pairs in kept:
            _count_pairs(exact[version], pairs or Counter())
        return exact, versioned
    for version, batch in rows.address_pairs():
        if exact[version]:
            _count_candidates(exact[version], batch)
    return exact, versioned


def _count_candidates(counted: dict[Address, int], batch: list[tuple[Address, Address]]) -> None:
    """Add the batch's flows of each candidate address: per address pair when pairs repeat,
    else with list.count (a few C comparisons a flow, where a Counter hashes every address)."""
    pairs = _pair_counts(batch)
    if pairs is not None:
        _count_pairs(counted, pairs)
        return
    a_side, b_side, both = _sides(batch)
    for address in counted:
        counted[address] += a_side.count(address) + b_side.count(address)
        counted[address] -= both.count(address)


def _count_pairs(counted: dict[Address, int], pairs: Counter[tuple[Address, Address]]) -> None:
    for (a, b), flows in pairs.items():
        if a in counted:
            counted[a] += flows
        if b != a and b in counted:
            counted[b] += flows


def _pair_counts(batch: list[tuple[Address, Address]]) -> Counter[tuple[Address, Address]] | None:
    """How many flows each address pair of the batch has, when its first PAIR_SAMPLE flows
    share pairs enough (a port scan: one pair) that adding up per pair costs less than per
    flow; else None."""
    sample = batch[:PAIR_SAMPLE]
    if len(set(sample)) * 2 > len(sample):
        return None
    return Counter(batch)


def _sightings(
    batch: list[tuple[Address, Address]], pairs: Counter[tuple[Address, Address]] | None
) -> Counter[Address]:
    """How many of the batch's flows each address is in (a flow from an address to itself
    counts once); ``pairs``: the batch's flows per address pair, if counted."""
    if pairs is not None:
        counts: Counter[Address] = Counter()
        for (a, b), flows in pairs.items():
            counts[a] += flows
            if b != a:
                counts[b] += flows
        return counts
    a_side, b_side, both = _sides(batch)
    counts = Counter(a_side)
    counts.update(b_side)
    counts.subtract(both)
    return counts


def _sides(
    batch: list[tuple[Address, Address]],
) -> tuple[list[Address], list[Address], list[Address]]:
    """The batch's a and b addresses, and the addresses of its flows from an address to
    itself (counted once, not twice)."""
    a_side = list(map(itemgetter(0), batch))
    b_side = list(map(itemgetter(1), batch))
    return a_side, b_side, list(compress(a_side, map(eq, a_side, b_side)))


def _merged(summary: dict[Address, int], counts: Counter[Address]) -> dict[Address, int]:
    """Two Misra-Gries summaries merged (Agarwal et al., "Mergeable Summaries", 2012): the
    counters added, the (k+1)-th largest taken off every one, the positive ones kept. An
    exact count is a summary too; an address in more than 1/(k+1) of all sightings so far
    always stays."""
    counts.update(summary)
    k = FREQUENT_CANDIDATES
    top = heapq.nlargest(k + 1, counts.items(), key=itemgetter(1))
    floor = top[k][1] if len(top) > k else 0
    return {address: count - floor for address, count in top[:k] if count > floor}
