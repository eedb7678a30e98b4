"""Which side of a flow is the server, and how flows add up per server endpoint."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor import hosts
from auditor.capture import columns
from auditor.endpoints import (
    capture_hosts,
    choose_server,
    server_endpoints,
)
from auditor.merging import merge_endpoints
from auditor.model import Flow, ServerReason

CLIENT = "192.168.1.23"


def flow(
    a: str,
    a_port: int,
    b: str,
    b_port: int,
    *,
    protocol: int = 17,
    packets: tuple[int, int] = (1, 1),
    size: int = 100,
    syn_ab: bool = False,
    syn_ba: bool = False,
    first: float = 1.0,
    frame: int = 1,
) -> Flow:
    return Flow(
        protocol=protocol,
        a=a,
        a_port=a_port,
        b=b,
        b_port=b_port,
        packets_ab=packets[0],
        packets_ba=packets[1],
        bytes_ab=packets[0] * size,
        bytes_ba=packets[1] * size,
        first_seen=first,
        last_seen=first + 1,
        first_frame=frame,
        syn_ab=syn_ab,
        syn_ba=syn_ba,
    )


def test_bare_syn_receiver_is_the_server_even_on_odd_ports() -> None:
    f = flow(CLIENT, 40000, "203.0.114.9", 45000, protocol=6, syn_ab=True)
    side = choose_server(f, frozenset())
    assert side is not None
    assert (side.server, side.reason) == ("203.0.114.9", ServerReason.SYN)


def test_syn_seen_from_server_side_when_capture_started_mid_flow() -> None:
    # First packet seen goes server -> client, but the SYN went the other way round.
    f = flow("198.18.0.1", 5555, CLIENT, 6000, protocol=6, syn_ba=True)
    side = choose_server(f, frozenset())
    assert side is not None
    assert side.server == "198.18.0.1"


@pytest.mark.parametrize(
    ("a_port", "b_port", "expected"),
    [(50123, 8801, "b"), (3478, 61000, "a"), (50000, 19302, "b"), (443, 50000, "a")],
)
def test_meeting_port_against_ephemeral_port(a_port: int, b_port: int, expected: str) -> None:
    a, b = "100.20.0.1", "151.101.1.1"
    side = choose_server(flow(a, a_port, b, b_port), frozenset())
    assert side is not None
    assert side.server == (a if expected == "a" else b)
    assert side.reason == ServerReason.PORT


def test_two_ephemeral_ports_the_capture_host_is_the_client() -> None:
    f = flow("170.114.52.2", 40001, CLIENT, 50000)
    side = choose_server(f, frozenset({CLIENT}))
    assert side is not None
    assert (side.server, side.reason) == ("170.114.52.2", ServerReason.NOT_CAPTURE_HOST)


def test_public_client_is_never_judged_as_a_server() -> None:
    client = "81.2.69.142"  # a public address, as on a home router or a cloud VM
    flows = [
        flow(client, 50000 + n, f"175.16.199.{n}", 8801, packets=(5, 5)) for n in range(1, 5)
    ]
    # A peer connects *to* the client (it received the bare SYN): still not a server.
    flows.append(flow("89.160.20.115", 50999, client, 443, protocol=6, syn_ab=True))
    assert capture_hosts(flows) == frozenset({client})
    servers = {e.ip for e in server_endpoints(flows)}
    assert client not in servers
    assert "89.160.20.115" in servers


def test_flow_between_two_capture_hosts_has_no_server() -> None:
    hosts = frozenset({"10.0.0.1", "fd00::1"})
    assert choose_server(flow("10.0.0.1", 1, "10.0.0.1", 2), hosts) is None


def test_dual_stack_client_has_one_host_per_ip_version() -> None:
    v6_client = "2001:db8::23"
    flows = [flow(CLIENT, 50000 + n, f"170.114.52.{n}", 443) for n in range(3)]
    flows += [flow(v6_client, 50000 + n, f"2a02:d180::{n}", 443) for n in range(1, 4)]
    assert capture_hosts(flows) == frozenset({CLIENT, v6_client})


def test_aggregation_per_server_counts_everything_once() -> None:
    server = "175.16.199.1"
    flows = [
        flow(CLIENT, 50000, server, 8801, packets=(10, 12), size=1000, first=5.0, frame=7),
        flow(CLIENT, 50001, server, 443, protocol=6, packets=(3, 2), size=60, syn_ab=True,
             first=2.0, frame=3),
        flow(CLIENT, 50002, "170.114.52.2", 443, protocol=6, packets=(1, 1), syn_ab=True),
    ]
    endpoints = {e.ip: e for e in server_endpoints(flows)}
    relay = endpoints[server]
    assert relay.packets == 27
    assert relay.bytes == 22 * 1000 + 5 * 60
    assert relay.flows == 2
    assert relay.ports == ("443/tcp", "8801/udp")
    assert relay.protocols == ("tcp", "udp")
    assert (relay.first_seen, relay.first_frame) == (2.0, 3)
    assert relay.reason == ServerReason.SYN  # the strongest reason among its flows
    assert CLIENT not in endpoints


def test_merge_across_captures_adds_up() -> None:
    server = "175.16.199.1"
    day1 = server_endpoints([flow(CLIENT, 50000, server, 8801, packets=(2, 2), first=10.0)])
    day2 = server_endpoints([flow("10.1.1.1", 50000, server, 8802, packets=(3, 3), first=1.0)])
    (merged,) = merge_endpoints([day1, day2])
    assert merged.packets == 10
    assert merged.flows == 2
    assert merged.ports == ("8801/udp", "8802/udp")
    assert merged.first_seen == 1.0


def test_merge_says_in_which_captures_each_server_was_seen() -> None:
    shared, only_monday = "175.16.199.1", "89.160.20.113"
    monday = server_endpoints(
        [flow(CLIENT, 50000, shared, 8801), flow(CLIENT, 50001, only_monday, 443)],
        capture="monday.pcap",
    )
    tuesday = server_endpoints([flow(CLIENT, 50000, shared, 8801)], capture="tuesday.pcap")
    again = server_endpoints([flow(CLIENT, 50002, shared, 8801)], capture="monday.pcap")
    merged = {e.ip: e for e in merge_endpoints([monday, tuesday, again])}
    assert merged[shared].captures == ("monday.pcap", "tuesday.pcap")
    assert merged[only_monday].captures == ("monday.pcap",)


def test_merge_keeps_each_captures_own_frames_times_and_counts() -> None:
    server = "175.16.199.1"
    monday = server_endpoints(
        [flow(CLIENT, 50000, server, 8801, packets=(2, 2), first=10.0, frame=40)],
        capture="monday.pcap",
    )
    tuesday = server_endpoints(
        [flow(CLIENT, 50000, server, 8801, packets=(3, 3), first=1.0, frame=7)],
        capture="tuesday.pcap",
    )
    again = server_endpoints(
        [flow(CLIENT, 50001, server, 8801, packets=(1, 0), first=20.0, frame=90)],
        capture="monday.pcap",
    )
    (merged,) = merge_endpoints([monday, tuesday, again])
    seen = {s.capture: s for s in merged.seen_in()}
    assert (seen["monday.pcap"].first_frame, seen["monday.pcap"].first_seen) == (40, 10.0)
    assert (seen["tuesday.pcap"].first_frame, seen["tuesday.pcap"].first_seen) == (7, 1.0)
    assert (seen["monday.pcap"].packets, seen["monday.pcap"].flows) == (5, 2)
    assert sum(s.packets for s in seen.values()) == merged.packets
    assert merged.first_frame == 7  # the totals' first frame is in the earliest capture


def test_one_capture_is_its_own_sighting() -> None:
    (endpoint,) = server_endpoints([flow(CLIENT, 50000, "175.16.199.1", 8801, frame=9)],
                                   capture="one.pcap")
    assert endpoint.sightings == ()  # no copy per endpoint for a single capture
    (seen,) = endpoint.seen_in()
    assert (seen.capture, seen.first_frame, seen.packets) == ("one.pcap", 9, endpoint.packets)


def test_names_attach_to_their_server_sni_first() -> None:
    from auditor.model import NameSighting, NameSource

    server = "170.114.52.2"
    names = [
        NameSighting(server, "cdn.zoom.us", NameSource.DNS),
        NameSighting(server, "zoom.us", NameSource.SNI),
        NameSighting(server, "cdn.zoom.us", NameSource.DNS),
        NameSighting("203.0.113.9", "elsewhere.example", NameSource.DNS),
    ]
    (endpoint,) = server_endpoints([flow(CLIENT, 50000, server, 443, protocol=6)], names)
    assert endpoint.hostnames == ("zoom.us", "cdn.zoom.us")


def _hosts_by_counting_everything(flows: list[Flow]) -> frozenset[str]:
    """The rule of capture_hosts, written the obvious way: a counter for every address."""
    from auditor.addresses import is_local_host as private

    hosts = set()
    for version in (4, 6):
        versioned = [f for f in flows if (6 if ":" in f.a else 4) == version]
        if not versioned:
            continue
        seen: Counter[str] = Counter()
        for f in versioned:
            seen[f.a] += 1
            if f.b != f.a:
                seen[f.b] += 1
        address, count = max(seen.items(), key=lambda i: (i[1], private(i[0]), i[0]))
        lone = len(versioned) == 1 and private(address)
        if (count > 1 and count * 2 >= len(versioned)) or lone:
            hosts.add(address)
    return frozenset(hosts)


ADDRESSES = ["192.168.1.23", "10.0.0.2", "198.51.100.7", "203.0.113.9", "2001:db8::1",
             "fd00::2", "100.64.0.1", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4",
             "192.0.2.5"]  # fmt: skip
# Flows' (a, b) addresses, both of one IP version.
ADDRESS_PAIRS = st.lists(
    st.tuples(st.sampled_from(ADDRESSES), st.sampled_from(ADDRESSES)).filter(
        lambda pair: (":" in pair[0]) == (":" in pair[1])
    ),
    max_size=60,
)


def test_no_capture_host_when_no_address_is_in_two_flows() -> None:
    # More addresses than the frequent-items summary has counters, each in one flow: it keeps
    # none (this was a ValueError from max() before), and there is no host.
    pairs = [("192.168.1.23", "192.168.1.23"), ("10.0.0.2", "198.51.100.7"),
             ("203.0.113.9", "192.0.2.3"), ("100.64.0.1", "192.0.2.4"),
             ("192.0.2.1", "192.0.2.2")]  # fmt: skip
    flows = [flow(a, 50000 + i, b, 443, frame=i + 1) for i, (a, b) in enumerate(pairs)]
    assert capture_hosts(flows) == frozenset() == _hosts_by_counting_everything(flows)
    assert len(server_endpoints(flows)) == 5


@given(ADDRESS_PAIRS)
def test_capture_hosts_in_constant_memory_agrees_with_counting_everything(
    pairs: list[tuple[str, str]],
) -> None:
    flows = [flow(a, 50000 + i, b, 443, frame=i + 1) for i, (a, b) in enumerate(pairs)]
    assert capture_hosts(flows) == _hosts_by_counting_everything(flows)


@given(
    ADDRESS_PAIRS,
    st.integers(min_value=1, max_value=7),
)
def test_capture_hosts_counted_in_small_batches_agrees_with_counting_everything(
    pairs: list[tuple[str, str]], batch: int
) -> None:
    # Batches of a few flows: the frequent-items summaries are merged many times over.
    flows = [flow(a, 50000 + i, b, 443, frame=i + 1) for i, (a, b) in enumerate(pairs)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columns, "BATCH", batch)
        assert capture_hosts(flows) == _hosts_by_counting_everything(flows)


def test_endpoints_share_their_port_and_protocol_labels() -> None:
    flows = [flow(CLIENT, 50000 + i, f"198.51.100.{i + 1}", 443) for i in range(10)]
    endpoints = server_endpoints(flows)
    assert len(endpoints) == 10
    assert len({id(e.ports) for e in endpoints}) == 1
    assert endpoints[0].ports == ("443/udp",)


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 3)), min_size=1, max_size=40))
def test_endpoints_come_busiest_first_then_by_address(servers: list[tuple[int, int]]) -> None:
    # Many endpoints share a byte count: those are ordered by their address text.
    flows = [
        flow(CLIENT, 50000 + i, f"198.51.{host // 10}.{host}", 443, size=size * 100, frame=i + 1)
        for i, (host, size) in enumerate(servers)
    ]
    for endpoints in (server_endpoints(flows), merge_endpoints([server_endpoints(flows)])):
        keys = [(-e.bytes, e.ip) for e in endpoints]
        assert keys == sorted(keys)
        assert len(keys) == len({host for host, _size in servers})


def test_no_capture_host_given_is_not_worked_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The audit works the hosts out once; "none" is an answer, not a reason to count again.
    flows = [flow(f"198.51.100.{i}", 50000, f"203.0.113.{i}", 443) for i in range(1, 5)]
    assert capture_hosts(flows) == frozenset()

    def counted_again(_flows: object) -> frozenset[str]:
        raise AssertionError("capture_hosts called again")

    monkeypatch.setattr("auditor.endpoints.capture_hosts", counted_again)
    assert len(server_endpoints(flows, own_hosts=frozenset())) == 4


def _always_per_pair(batch: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    return Counter(batch)


def _never_per_pair(_batch: list[tuple[str, str]]) -> None:
    return None


@given(
    ADDRESS_PAIRS,
    st.integers(min_value=1, max_value=7),
    st.sampled_from(["per pair", "per flow", "some pairs kept"]),
)
def test_capture_hosts_counted_per_address_pair_agrees_with_counting_everything(
    pairs: list[tuple[str, str]], batch: int, how: str
) -> None:
    # A batch of few address pairs is counted per pair, and kept for the second pass when its
    # pairs are few enough; any mix of batches counted either way gives the same hosts.
    flows = [flow(a, 50000 + i, b, 443, frame=i + 1) for i, (a, b) in enumerate(pairs)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columns, "BATCH", batch)
        if how == "per pair":
            patch.setattr(hosts, "_pair_counts", _always_per_pair)
        elif how == "per flow":
            patch.setattr(hosts, "_pair_counts", _never_per_pair)
        else:
            patch.setattr(hosts, "_pair_counts", _always_per_pair)
            patch.setattr(hosts, "MAX_KEPT", 2)
        assert capture_hosts(flows) == _hosts_by_counting_everything(flows)
