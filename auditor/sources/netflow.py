"""NetFlow v5, v9 and IPFIX export packets decoded into flow records, in bounded memory.

Hand-written over ``struct`` rather than taken from the ``netflow`` package: that one loops
forever on a template whose fields are all zero bytes long (a hostile exporter hangs the
collector), prints to standard output from inside the parser, parses ASCII-only binary
packets as hex text, and keys templates by id alone, mixing exporters. This decoder is fuzzed
(tests/sources/test_netflow_robustness.py) like the capture reader.

Templates are kept per exporter address, observation domain (v9: source id) and template id.
Options templates are read only so that their data records can be skipped safely, and for the
sampling interval they carry; every other option is ignored.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

V5_HEADER: Final = struct.Struct("!HHIIIIBBH")
V5_RECORD: Final = struct.Struct("!4s4s4sHHIIIIHHxBBBHHBBxx")
V9_HEADER: Final = struct.Struct("!HHIIII")
IPFIX_HEADER: Final = struct.Struct("!HHIII")
SET_HEADER: Final = struct.Struct("!HH")

MAX_TEMPLATES: Final = 4096  # per collector run; a flood of template ids gets no more memory
MAX_FIELDS: Final = 512
REVERSE_PEN: Final = 29305  # RFC 5103 biflow: the reverse direction's elements

# Information elements (IANA IPFIX numbering; v9 uses the same numbers for these).
OCTETS, PACKETS, PROTOCOL, TCP_FLAGS, SRC_PORT, SRC_V4, DST_PORT, DST_V4 = 1, 2, 4, 6, 7, 8, 11, 12
END_UPTIME, START_UPTIME, SRC_V6, DST_V6 = 21, 22, 27, 28
SAMPLING_INTERVAL, SAMPLER_RANDOM_INTERVAL = 34, 50
OCTETS_TOTAL, PACKETS_TOTAL = 85, 86
START_SECONDS, END_SECONDS, START_MS, END_MS = 150, 151, 152, 153
START_US, END_US, START_NS, END_NS = 154, 155, 156, 157
SYSTEM_INIT_MS = 160
SAMPLING_PACKET_INTERVAL, SAMPLING_PACKET_SPACE = 305, 306
VARIABLE: Final = 0xFFFF

TCP_SYN, TCP_ACK = 0x02, 0x10


class ExportError(ValueError):
    """An export packet (or set) that cannot be decoded; the rest of the stream goes on."""


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """One flow record as exported: one direction, or both for an IPFIX biflow."""

    version: int
    protocol: int
    src: str
    src_port: int
    dst: str
    dst_port: int
    packets: int
    bytes: int
    first: float  # seconds since the epoch, as the exporter states it
    last: float
    tcp_flags: int
    reverse_packets: int = 0
    reverse_bytes: int = 0
    reverse_tcp_flags: int = 0
    sampling: int = 1  # 1 in this many packets was counted; counts are not yet scaled


@dataclass(frozen=True, slots=True)
class _Field:
    element: int
    length: int  # VARIABLE for IPFIX variable-length fields
    enterprise: int = 0


@dataclass(frozen=True, slots=True)
class _Template:
    fields: tuple[_Field, ...]
    options: bool  # an options template: its records are read for sampling only
    min_length: int  # of one record; at least 1, so that a set always ends


TemplateKey = tuple[str, int, int, int]  # exporter, version, domain, template id


@dataclass(slots=True)
class Decoder:
    """Decodes the export packets of one collection, remembering templates and sampling."""

    templates: dict[TemplateKey, _Template] = field(default_factory=dict)
    sampling: dict[tuple[str, int, int], int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    versions: set[int] = field(default_factory=set)
    templates_dropped: bool = False

    def decode(self, data: bytes, exporter: str) -> Iterator[FlowRecord]:
        """The flow records of one export packet; damage is counted in ``skipped``."""
        try:
            if len(data) < 2:
                raise ExportError("shorter than a version number")
            version = int.from_bytes(data[:2], "big")
            if version == 5:
                yield from self._v5(data)
            elif version == 9:
                yield from self._sets(data, exporter, 9)
            elif version == 10:
                yield from self._sets(data, exporter, 10)
            else:
                raise ExportError(f"version {version}")
            self.versions.add(version)
        except (ExportError, struct.error, ValueError):
            self.skipped["undecodable export packet"] += 1

    # --- v5 ---------------------------------------------------------------------------------

    def _v5(self, data: bytes) -> Iterator[FlowRecord]:
        (_, count, uptime, secs, nsecs, _, _, _, sampling) = V5_HEADER.unpack_from(data)
        if V5_HEADER.size + count * V5_RECORD.size > len(data) or count > 30:
            raise ExportError("v5 record count beyond the packet")
        now = secs + nsecs / 1e9
        interval = sampling & 0x3FFF
        for index in range(count):
            r = V5_RECORD.unpack_from(data, V5_HEADER.size + index * V5_RECORD.size)
            src, dst, _, _, _, packets, octets, first, last, sport, dport, flags, proto = r[:13]
            yield FlowRecord(
                5, proto, _ip(src), sport, _ip(dst), dport, packets, octets,
                now - (uptime - first) / 1000, now - (uptime - last) / 1000, flags,
                sampling=max(interval, 1),
            )

    # --- v9 and IPFIX: sets of templates and records ----------------------------------------

    def _sets(self, data: bytes, exporter: str, version: int) -> Iterator[FlowRecord]:
        if version == 9:
            _, _, uptime, secs, _, domain = V9_HEADER.unpack_from(data)
            offset, end = V9_HEADER.size, len(data)
            template_sets, options_sets = (0,), (1,)
        else:
            _, length, secs, _, domain = IPFIX_HEADER.unpack_from(data)
            if length < IPFIX_HEADER.size or length > len(data):
                raise ExportError("IPFIX length beyond the packet")
            uptime, offset, end = 0, IPFIX_HEADER.size, length
            template_sets, options_sets = (2,), (3,)
        clock = _Clock(version, secs, uptime)
        while offset + SET_HEADER.size <= end:
            set_id, length = SET_HEADER.unpack_from(data, offset)
            if length < SET_HEADER.size or offset + length > end:
                raise ExportError("set length beyond the packet")
            body = data[offset + SET_HEADER.size : offset + length]
            offset += length
            key = (exporter, version, domain)
            if set_id in template_sets:
                self._templates(body, key, options=False)
            elif set_id in options_sets:
                self._templates(body, key, options=True)
            elif set_id >= 256:
                yield from self._records(body, key, set_id, clock)
            else:
                self.skipped["reserved set id"] += 1

    def _templates(self, body: bytes, key: tuple[str, int, int], *, options: bool) -> None:
        exporter, version, domain = key
        offset = 0
        while offset + 4 <= len(body):
            template_id, count = struct.unpack_from("!HH", body, offset)
            offset += 4
            if options and not (version == 10 and count == 0):  # not a withdrawal
                # v9 gives the scope and option lengths in bytes (four per field); IPFIX the
                # scope field count, within the total. Scope fields are laid out like any other.
                extra = struct.unpack_from("!H", body, offset)[0]
                offset += 2
                if version == 9:
                    count = (count + extra) // 4
            if template_id < 256:
                break  # padding, or damage: the rest of the set is no template
            fields, offset = _fields(body, offset, count, ipfix=version == 10)
            if not fields:  # IPFIX template withdrawal
                self.templates.pop((exporter, version, domain, template_id), None)
                continue
            self._keep((exporter, version, domain, template_id), fields, options=options)

    def _keep(self, key: TemplateKey, fields: tuple[_Field, ...], *, options: bool) -> None:
        if key not in self.templates and len(self.templates) >= MAX_TEMPLATES:
            self.templates_dropped = True
            return
        fixed = sum(1 if f.length == VARIABLE else f.length for f in fields)
        if fixed < 1:
            self.skipped["template of zero-length records"] += 1
            return
        self.templates[key] = _Template(fields, options, fixed)

    def _records(
        self, body: bytes, key: tuple[str, int, int], set_id: int, clock: _Clock
    ) -> Iterator[FlowRecord]:
        exporter, version, domain = key
        template = self.templates.get((exporter, version, domain, set_id))
        if template is None:
            self.skipped["records before their template"] += 1
            return
        offset = 0
        while len(body) - offset >= template.min_length:
            values, offset = _values(body, offset, template.fields)
            if template.options:
                self._sampling_option(values, key)
                continue
            record = _record(values, version, clock, self.sampling.get(key, 1))
            if record is None:
                self.skipped["flow record without addresses"] += 1
            else:
                yield record

    def _sampling_option(self, values: dict[tuple[int, int], int | bytes], key: tuple[
            str, int, int]) -> None:
        interval = _number(values, SAMPLING_INTERVAL) or _number(values, SAMPLER_RANDOM_INTERVAL)
        packet_interval = _number(values, SAMPLING_PACKET_INTERVAL)
        if packet_interval:
            interval = (packet_interval + _number(values, SAMPLING_PACKET_SPACE)) // packet_interval
        if interval and interval < 1 << 24:
            self.sampling[key] = interval


@dataclass(frozen=True, slots=True)
class _Clock:
    """Turns the exporter's times (uptime milliseconds, or absolute) into epoch seconds."""

    version: int
    secs: int
    uptime: int

    def at_uptime(self, uptime_ms: int, init_ms: int) -> float:
        if self.version == 10:
            return (init_ms + uptime_ms) / 1000 if init_ms else float(self.secs)
        return self.secs - (self.uptime - uptime_ms) / 1000


def _fields(body: bytes, offset: int, count: int, *, ipfix: bool) -> tuple[tuple[_Field, ...], int]:
    if count > MAX_FIELDS:
        raise ExportError(f"template of {count} fields")
    fields = []
    for _ in range(count):
        element, length = struct.unpack_from("!HH", body, offset)
        offset += 4
        enterprise = 0
        if ipfix and element & 0x8000:
            enterprise = struct.unpack_from("!I", body, offset)[0]
            offset += 4
            element &= 0x7FFF
        if length == VARIABLE and not ipfix:
            raise ExportError("variable-length field in NetFlow v9")
        fields.append(_Field(element, length, enterprise))
    return tuple(fields), offset


def _values(
    body: bytes, offset: int, fields: tuple[_Field, ...]
) -> tuple[dict[tuple[int, int], int | bytes], int]:
    values: dict[tuple[int, int], int | bytes] = {}
    for f in fields:
        length = f.length
        if length == VARIABLE:
            length = body[offset]
            offset += 1
            if length == 255:
                length = struct.unpack_from("!H", body, offset)[0]
                offset += 2
        raw = body[offset : offset + length]
        if len(raw) < length:
            raise ExportError("record cut short")
        offset += length
        key = (f.enterprise, f.element)
        values[key] = raw if f.element in _ADDRESSES and f.enterprise == 0 else (
            int.from_bytes(raw, "big") if length <= 8 else raw
        )
    return values, offset


_ADDRESSES: Final = frozenset({SRC_V4, DST_V4, SRC_V6, DST_V6})


def _record(
    values: dict[tuple[int, int], int | bytes], version: int, clock: _Clock, sampling: int
) -> FlowRecord | None:
    src = _address(values, SRC_V4) or _address(values, SRC_V6)
    dst = _address(values, DST_V4) or _address(values, DST_V6)
    if src is None or dst is None:
        return None
    first, last = _times(values, clock)
    interval = _number(values, SAMPLING_INTERVAL) or sampling
    return FlowRecord(
        version=version,
        protocol=_number(values, PROTOCOL) & 0xFF,
        src=src,
        src_port=_number(values, SRC_PORT) & 0xFFFF,
        dst=dst,
        dst_port=_number(values, DST_PORT) & 0xFFFF,
        packets=_number(values, PACKETS) or _number(values, PACKETS_TOTAL),
        bytes=_number(values, OCTETS) or _number(values, OCTETS_TOTAL),
        first=first,
        last=last,
        tcp_flags=_number(values, TCP_FLAGS) & 0xFF,
        reverse_packets=_number(values, PACKETS, REVERSE_PEN),
        reverse_bytes=_number(values, OCTETS, REVERSE_PEN),
        reverse_tcp_flags=_number(values, TCP_FLAGS, REVERSE_PEN) & 0xFF,
        sampling=interval if 0 < interval < 1 << 24 else 1,
    )


def _times(values: dict[tuple[int, int], int | bytes], clock: _Clock) -> tuple[float, float]:
    for start, end, scale in ((START_MS, END_MS, 1e-3), (START_SECONDS, END_SECONDS, 1.0)):
        if (0, start) in values:
            first = _number(values, start) * scale
            return first, (_number(values, end) * scale) or first
    for start, end in ((START_US, END_US), (START_NS, END_NS)):
        if (0, start) in values:  # NTP format: seconds since 1900, then a binary fraction
            first = _ntp(_number(values, start))
            return first, _ntp(_number(values, end)) or first
    if (0, START_UPTIME) in values:
        init = _number(values, SYSTEM_INIT_MS)
        first = clock.at_uptime(_number(values, START_UPTIME), init)
        return first, clock.at_uptime(_number(values, END_UPTIME), init)
    return float(clock.secs), float(clock.secs)


def _ntp(value: int) -> float:
    return (value >> 32) - 2_208_988_800 + (value & 0xFFFFFFFF) / 2**32 if value else 0.0


def _number(values: dict[tuple[int, int], int | bytes], element: int, enterprise: int = 0) -> int:
    value = values.get((enterprise, element), 0)
    return value if isinstance(value, int) else 0


def _address(values: dict[tuple[int, int], int | bytes], element: int) -> str | None:
    raw = values.get((0, element))
    if not isinstance(raw, bytes) or len(raw) not in (4, 16):
        return None
    return _ip(raw)


def _ip(raw: bytes) -> str:
    return ipaddress.ip_address(raw).compressed
