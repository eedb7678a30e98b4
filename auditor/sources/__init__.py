"""Connection metadata of every kind, read into the capture stage's records.

``read_source`` sniffs what an input is, as the capture reader sniffs pcap from pcapng: a packet
capture, a Zeek log (or a folder of them), or a WebRTC dump. Each reader returns the same
CaptureResult, so endpoints, geolocation, policy and reports are written once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from auditor.capture import read_capture
from auditor.capture.pcap import MAGICS
from auditor.capture.pcapng_blocks import SHB
from auditor.errors import CaptureError, read_guarded
from auditor.model import CaptureResult, SourceKind
from auditor.sources.lines import head

__all__ = ["read_source", "sniff"]

Progress = Callable[[int, int], None]
WEBRTC_SNIFF = 1 << 20


def read_source(
    path: str | os.PathLike[str],
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> CaptureResult:
    """Read one input of any kind. Raises CaptureError when it cannot be read at all."""
    name = os.fspath(path)
    kind = sniff(name)
    # The other kinds' readers are imported only for their inputs: start-up time.
    if kind is SourceKind.ZEEK:
        from auditor.sources import zeek

        return read_guarded(name, lambda: zeek.read_zeek(name, progress))
    if kind is SourceKind.NETFLOW:
        from auditor.sources import export, nfcapd

        if nfcapd.is_nfcapd_head(head(name).data):
            return read_guarded(name, lambda: nfcapd.read_nfcapd(name))
        return read_guarded(name, lambda: export.read_export(name, progress))
    if kind is SourceKind.WEBRTC:
        from auditor.sources import webrtc

        return read_guarded(name, lambda: webrtc.read_webrtc(name, progress))
    if kind is None:
        damage = head(name, WEBRTC_SNIFF).damage
        raise CaptureError(name, "neither a capture (pcap, pcapng) nor a Zeek log nor a WebRTC "
                           "dump: text in no format the auditor reads"
                           + (f" ({damage})" if damage else ""))
    return read_capture(name, workers=workers, progress=progress)


def sniff(path: str) -> SourceKind | None:
    """The kind of an input, from its first bytes: None for JSON or comment-led text of no
    known kind, PCAP for anything else the capture reader should judge (and reject with its
    own message)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return SourceKind.PCAP  # the capture reader names the error
    if stat.S_ISDIR(mode):
        return SourceKind.ZEEK
    if not stat.S_ISREG(mode):
        return SourceKind.PCAP  # a pipe cannot be read twice: captures only
    try:
        first = head(path).data
    except OSError:
        return SourceKind.PCAP
    if int.from_bytes(first[:4], "big") in (*MAGICS, SHB):
        return SourceKind.PCAP  # no other kind starts so: their sniffers are not even imported
    from auditor.sources import export, nfcapd, webrtc, zeek

    if zeek.is_zeek_head(first):
        return SourceKind.ZEEK
    if export.is_export_head(first) or nfcapd.is_nfcapd_head(first):
        return SourceKind.NETFLOW
    if first.lstrip()[:1] in (b"{", b"[", b"#"):
        # A dump's first stats can sit behind a long getUserMedia list: look further.
        wider = head(path, WEBRTC_SNIFF).data
        return SourceKind.WEBRTC if webrtc.is_webrtc_head(wider) else None
    return SourceKind.PCAP

