"""Real meeting captures against tshark, and the odd-file corpus against crashes."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from auditor.capture import read_capture
from auditor.errors import CaptureError
from tests.capture.oracle import flow_endpoints, tshark_endpoint_packets, tshark_ip_bytes
from tests.capture.util import read_checked

# Only to list the cases at collection time; the tests themselves use the shared_data fixture.
SHARED = Path(os.environ.get("AUDITOR_SHARED_DATA", "../shared/data"))


def _names(sub: str, pattern: str) -> list[str]:
    folder = SHARED / "pcaps" / sub
    return sorted(p.name for p in folder.glob(pattern)) if folder.is_dir() else []


MEETINGS = _names("meetings", "*.pcap*")
CORPUS = _names("corpus", "*.pcap*")

# libpcap refuses these at open; they are safe to read, so the auditor reads them: each is a
# well-framed file whose only fault is an option (duplicate if_tsoffset, end-of-options with
# a length, a timestamp resolution finer than libpcap supports) or a section with no interface.
READ_THOUGH_LIBPCAP_REJECTS = {
    "libpcap_pcapng-idb-tsresol-bin-high.pcapng",
    "libpcap_pcapng-idb-tsresol-dec-high.pcapng",
    "libpcap_pcapng-idb-tsoffset-dup.pcapng",
    "libpcap_pcapng-idb-endofopt-badlen.pcapng",
    "libpcap_pcapng-no-idb.pcapng",
}


@pytest.mark.parametrize("name", MEETINGS)
def test_endpoint_packets_and_bytes_equal_tshark(shared_data: Path, tshark: str, name: str) -> None:
    path = shared_data / "pcaps" / "meetings" / name
    result = read_checked(path, parallel=True)
    packets, nbytes = flow_endpoints(result.flows)
    theirs = tshark_endpoint_packets(tshark, path)
    outer_bytes = tshark_ip_bytes(tshark, path)
    assert packets, "no flows read"
    for address, count in packets.items():
        assert theirs[address] == count, address
    # Both count the inner addresses of tunnels (GTP in zoom.pcap) too: their packets are
    # checked above. Bytes: tshark's first IP header is the outer one, so the inner addresses'
    # bytes are the auditor's alone.
    assert set(theirs) == set(packets)
    assert {address: n for address, n in nbytes.items() if address in outer_bytes} == outer_bytes
    assert result.summary.complete


def _manifest(shared: Path) -> dict[str, dict[str, str]]:
    with (shared / "pcaps" / "corpus" / "MANIFEST.tsv").open(newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_file_reads_or_raises_capture_error(shared_data: Path, name: str) -> None:
    row = _manifest(shared_data)[name]
    path = shared_data / "pcaps" / "corpus" / name
    expected = row["expected_reader_behaviour"]
    rejected = expected.startswith("libpcap rejects") and name not in READ_THOUGH_LIBPCAP_REJECTS
    if rejected:
        with pytest.raises(CaptureError):
            read_capture(path)
        return
    result = read_checked(path)
    capinfos_packets = row["packets(capinfos)"]
    if capinfos_packets.isdigit():
        assert result.summary.packets == int(capinfos_packets)
    assert result.summary.complete
    tunnelled = result.summary.tunnelled_packets  # inner packets: flows of their own
    assert result.summary.ip_packets + tunnelled == sum(f.packets for f in result.flows)
    assert result.summary.packets >= result.summary.ip_packets + sum(
        result.summary.skipped.values()
    ) - result.summary.unjudged_packets
