"""Precompiled structs and constants shared by the pcap and pcapng hot loops."""

from __future__ import annotations

import struct
from functools import cache
from typing import Final, NamedTuple

MAX_CAPLEN: Final = 256 * 1024  # a pcap record claiming more is damage, not an allocation
MAX_BLOCK: Final = 16 * 1024 * 1024  # same for a pcapng block

# Ethernet + IPv4 (IHL 5) + the first 14 transport bytes, read in one call after the record or
# block header: ethertype, version/IHL, total length, flags/fragment offset, protocol, the
# src|dst|sport|dport key as raw bytes, and the TCP flags byte.
ETH_IPV4_TAIL: Final = "12xHBxH2xHxB2x12s9xB"
# IPv6 right after a 14-byte Ethernet header: version nibble, payload length, next header, the
# src|dst|sport|dport key, TCP flags. Always network order, so one struct serves both files.
IPV6_AT_ETH = struct.Struct(">B3xHBx36s9xB")


class Constants(NamedTuple):
    """The IP-field constants as they read when unpacked in the file's byte order.

    The packet is big-endian but the record header is in the file's order; one struct call
    reads both in the file's order, so the packet fields come out byte-swapped in a
    little-endian file and are compared against swapped constants instead of being fixed up.
    """

    eth_ipv4: int
    eth_ipv6: int
    frag_mask: int  # MF flag and fragment offset
    to_host16: tuple[int, ...]  # index with a 16-bit field to get its network-order value


@cache
def constants(endian: str) -> Constants:
    if endian == ">":
        return Constants(0x0800, 0x86DD, 0x3FFF, tuple(range(65536)))
    # Every 16-bit value read in the other byte order, built in C (once per run, and a
    # generator over 65,536 values was a fixed cost of every little-endian capture).
    swapped = struct.unpack(">65536H", struct.pack("<65536H", *range(65536)))
    return Constants(0x0008, 0xDD86, 0xFF3F, swapped)
