"""The compiled packet loops (auditor/capture/_loop.c): pcap.py and pcapng.py run them when
this install has them, and their own Python loops otherwise, with the same results.

``into.add`` must be the flow table's add_untabled: its common cases (a tapped direction's
packet short of a budget, a new direction with room) are done in C, as it does them."""

from auditor.capture.fastpath import Decode, Directions
from auditor.capture.flowtable import FlowTable

def pcap_records(
    buf: bytearray,
    pos: int,
    n: int,
    frame: int,
    little: bool,
    nano: bool,
    ft: FlowTable,
    into: Directions,
    decode: Decode,
    /,
) -> tuple[int, int]:
    """pcap.py's fast loop over the Ethernet records of ``buf[pos:n]``: where it stopped, and
    the last frame number it gave."""

def epb_records(
    buf: bytearray,
    pos: int,
    n: int,
    frame: int,
    t: float,
    little: bool,
    interfaces: int,
    div: float,
    ft: FlowTable,
    into: Directions,
    decode: Decode,
    /,
) -> tuple[int, int, float]:
    """pcapng.py's fast loop over option-less EPBs on the first ``interfaces`` interfaces (all
    Ethernet, with one time divisor ``div``): where it stopped, the last frame number and the
    last packet's time (``t`` when it read none)."""

def udp_payload_kind(payload: bytes | bytearray, /) -> int:
    """roles.payload_kind(17, payload) as the compiled loop computes it, to decide whether
    FlowTable.look would act on a packet (for the tests)."""
