"""The JSON report's endpoint lines, each the text json_format would encode, made from parts.

An endpoint's line is ~2 KB, and most of it says where the databases put it and how it was
judged: endpoints of one network share their location (all but the address), their Judgement
and, without round trips or hints, their evidence. Those parts are encoded once per place and
joined with what is the endpoint's own (address, counts, ports, times), so a hundred thousand
endpoints cost a few encodings per place, not a 30-key dict each. Every part is encoded by the
same C encoder the whole line would be; a test holds each line equal to that whole encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import islice
from operator import itemgetter
from typing import Any

from auditor.model import (
    Finding,
    Location,
    LocationFlag,
    Policy,
    RoleClaim,
    ServerEndpoint,
    Verdict,
)
from auditor.report.column_lines import Parts, each_line, lines_text
from auditor.report.columns import attribute_columns
from auditor.report.escape import clean, clean_optional
from auditor.report.evidence_view import answer_json
from auditor.report.json_spots import Spots
from auditor.report.json_text import ONE_LINE, remember, string_column
from auditor.report.json_text import STRING as _STRING
from auditor.report.json_text import optional_text as _optional
from auditor.report.json_text import raw_text as _raw
from auditor.report.times import compiled_iso_times, iso_time, python_iso_times
from auditor.report.view import flags_of


def located_part(location: Location, finding: Finding) -> dict[str, Any]:
    """The keys the location decides, from "country" to "answers" (the ip is the endpoint's)."""
    return {
        **_place_part(location, finding),
        "answers": [answer_json(a) for a in location.answers],
    }


def _place_part(location: Location, finding: Finding) -> dict[str, Any]:
    """located_part but its last key, "answers"."""
    return {
        "country": clean_optional(location.country),
        "registered_country": clean_optional(location.registered_country),
        "represented_country": clean_optional(location.represented_country),
        "city": clean_optional(location.city),
        "asn": location.asn,
        "org": clean_optional(location.org),
        "address_class": clean_optional(location.address_class),
        "anycast": location.is_anycast or LocationFlag.ANYCAST in location.flags,
        "accuracy_radius": location.accuracy_radius,
        "flags": list(flags_of(finding)),
    }


def own_part(finding: Finding) -> dict[str, Any]:
    """The keys that are the endpoint's own, from "packets" to "captures"."""
    endpoint = finding.endpoint
    return {
        "packets": endpoint.packets,
        "bytes": endpoint.bytes,
        "flows": endpoint.flows,
        "ports": [clean(p) for p in endpoint.ports],
        "protocols": [clean(p) for p in endpoint.protocols],
        "hostnames": [clean(h) for h in endpoint.hostnames],
        "platform": clean_optional(endpoint.platform),
        "platform_basis": endpoint.platform_basis,
        "roles": [{"role": c.role.value, "evidence": clean(c.evidence)} for c in endpoint.roles],
        "server_reason": endpoint.reason.value,
        "first_seen": iso_time(endpoint.first_seen),
        "last_seen": iso_time(endpoint.last_seen),
        "first_frame": endpoint.first_frame,
        "captures": [clean(c) for c in endpoint.captures],
    }


# Endpoint lines are made this many at a time, a column (every address, every count, every
# place) per step, each step one C-level pass over the column; the lines are then joined
# from the columns' texts. A line made finding by finding took some forty Python calls.
# A chunk's text (~1 MB of endpoint lines) is written at once: at 2048 lines a chunk the
# report's peak memory grew by 14 MB at 100k servers and the report was no faster.
CHUNK = 512

# What a chunk reads of its findings and their endpoints, a column a name (columns.py).
_FINDING_NAMES = ("endpoint", "location")
# An endpoint's own columns; then the ports, names, platform and server reason and its roles
# by identity (the roles stage shares one tuple per kind of endpoint; a RoleClaim hashes in
# Python), which key its _own_text; then the captures, which a spot's key takes.
_OWN_NAMES = ("ports", "protocols", "hostnames", "platform", "platform_basis", "reason", "roles")
_ENDPOINT_NAMES = (
    "ip", "packets", "bytes", "flows", "first_seen", "last_seen", "first_frame", *_OWN_NAMES,
    "captures",
)  # fmt: skip
_CAPTURES_AT = len(_OWN_NAMES)  # the captures' place among the columns after first_frame
_SIGHTING_NAMES = ("ip", "packets", "bytes", "flows", "first_frame", "first_seen", "last_seen")
OwnKey = tuple[tuple[Hashable, ...], int]
OwnEntry = tuple[str, tuple[RoleClaim, ...]]  # the text, and the roles held
_VERDICT_TEXT = {verdict: _STRING(verdict.value) for verdict in Verdict}


class EndpointLines:
    """Encodes endpoint lines for one policy, remembering the parts endpoints share.

    The parts an endpoint shares with others (its spot: place, captures, judgement and
    evidence, json_spots; its ports, names, platform and roles) are each looked up once per
    line by a key made in C."""

    def __init__(self, policy: Policy) -> None:
        self._spots = Spots(policy)
        self._lists: dict[tuple[str, ...], str] = {}
        self._roles: dict[tuple[RoleClaim, ...], str] = {}
        self._own: dict[OwnKey, OwnEntry] = {}

    def line(self, finding: Finding) -> str:
        """The endpoint's one-line JSON object, as json_format.endpoint_json encodes."""
        (line,) = self.chunk([finding])
        return line

    def lines(self, findings: Iterable[Finding]) -> Iterator[str]:
        """Each finding's line, in order, made CHUNK at a time."""
        remaining = iter(findings)
        while chunk := list(islice(remaining, CHUNK)):
            yield from self.chunk(chunk)

    def texts(self, findings: Iterable[Finding], opener: str, separator: str) -> Iterator[str]:
        """The findings' lines, CHUNK to a text: `opener` before the first line, `separator`
        before every other (see _texts)."""
        return _texts(self._parts, findings, opener, separator)

    def chunk(self, findings: list[Finding]) -> list[str]:
        """The findings' lines: each column worked out in one pass, then each line written."""
        return each_line(self._parts(findings))

    def _parts(self, findings: list[Finding]) -> Parts:
        """The lines' parts (column_lines.lines_text): every column worked out in one pass."""
        endpoints, locations = attribute_columns(findings, _FINDING_NAMES)
        (addresses, packets, sizes, flows, first_seen, last_seen, first_frames,
         *own_fields) = attribute_columns(endpoints, _ENDPOINT_NAMES)  # fmt: skip
        spots = self._spots.of(findings, endpoints, locations, own_fields[_CAPTURES_AT])
        own = self._own_of(endpoints, own_fields[:_CAPTURES_AT])
        quote, addresses = string_column(addresses)
        return (
            '{"ip": ' + quote, addresses, quote,
            list(map(_HEAD, spots)), list(map(_SPOT_ANSWERS, spots)),
            ', "packets": ', packets,
            ', "bytes": ', sizes,
            ', "flows": ', flows,
            own,
            json_times(first_seen),
            ', "last_seen": ', json_times(last_seen),
            ', "first_frame": ', first_frames,
            list(map(_TAIL, spots)), list(map(_EVIDENCE_ANSWERS, spots)), list(map(_END, spots)),
        )

    def _own_of(self, endpoints: list[ServerEndpoint], fields: list[list[Any]]) -> list[str]:
        """Each endpoint's _own_text, looked up by a key made in C from its _OWN_NAMES
        columns (`fields`, the roles last)."""
        *named, roles = fields
        keys: list[OwnKey] = list(zip(zip(*named, strict=True), map(id, roles), strict=True))
        found = list(map(self._own.get, keys))
        if None in found:
            for index, entry in enumerate(found):
                if entry is None:
                    found[index] = self._own_entry(keys[index], endpoints[index])
        return list(map(_FIRST, found))  # type: ignore[arg-type]

    def _own_entry(self, key: OwnKey, endpoint: ServerEndpoint) -> OwnEntry:
        entry = self._own.get(key)  # met earlier in the same chunk
        if entry is None:
            # The entry holds the roles its key names by identity: the id is never another's.
            entry = (self._own_text(endpoint), endpoint.roles)
            remember(self._own, key, entry)
        return entry

    def _own_text(self, endpoint: ServerEndpoint) -> str:
        """The keys between "flows" and "last_seen" but the first time: an endpoint's ports,
        names, platform, roles and server reason, which many endpoints share."""
        return (
            f', "ports": {self._list(endpoint.ports)}, '
            f'"protocols": {self._list(endpoint.protocols)}, '
            f'"hostnames": {self._list(endpoint.hostnames)}, '
            f'"platform": {_optional(endpoint.platform)}, '
            f'"platform_basis": {_raw(endpoint.platform_basis)}, '
            f'"roles": {self._roles_text(endpoint.roles)}, '
            f'"server_reason": "{endpoint.reason.value}", '
            '"first_seen": '
        )

    def _list(self, items: tuple[str, ...]) -> str:
        text = self._lists.get(items)
        if text is None:
            text = ONE_LINE([clean(item) for item in items])
            remember(self._lists, items, text)
        return text

    def _roles_text(self, roles: tuple[RoleClaim, ...]) -> str:
        text = self._roles.get(roles)
        if text is None:
            text = ONE_LINE([{"role": c.role.value, "evidence": clean(c.evidence)} for c in roles])
            remember(self._roles, roles, text)
        return text


# A Spot's texts, by position: a NamedTuple's fields by name cost a descriptor call each.
_HEAD = itemgetter(0)
_SPOT_ANSWERS = itemgetter(1)
_TAIL = itemgetter(2)
_EVIDENCE_ANSWERS = itemgetter(3)
_END = itemgetter(4)
_FIRST = itemgetter(0)


def json_times(epochs: list[float | None]) -> list[str]:
    """Each time as the encoder writes iso_time's text: quoted (it has nothing to escape), or
    null."""
    texts = compiled_iso_times(epochs, '"', "null")
    if texts is not None:
        return texts
    python = python_iso_times(epochs, '"')
    if None in python:
        return ["null" if text is None else text for text in python]
    return python  # type: ignore[return-value]


def sighting_line(finding: Finding) -> str:
    """A capture section's endpoint line: json_format's sighting row, encoded."""
    (line,) = sighting_chunk([finding])
    return line


def sighting_lines(findings: Iterable[Finding]) -> Iterator[str]:
    """Each finding's sighting line, in order, made CHUNK at a time as EndpointLines does."""
    remaining = iter(findings)
    while chunk := list(islice(remaining, CHUNK)):
        yield from sighting_chunk(chunk)


def sighting_texts(findings: Iterable[Finding], opener: str, separator: str) -> Iterator[str]:
    """The findings' sighting lines, CHUNK to a text, as EndpointLines.texts makes its lines."""
    return _texts(_sighting_parts, findings, opener, separator)


def sighting_chunk(findings: list[Finding]) -> list[str]:
    return each_line(_sighting_parts(findings))


def _sighting_parts(findings: list[Finding]) -> Parts:
    endpoints, judgements = attribute_columns(findings, _SIGHTING_FINDING_NAMES)
    (addresses, packets, sizes, flows, first_frames, first_seen,
     last_seen) = attribute_columns(endpoints, _SIGHTING_NAMES)  # fmt: skip
    (verdicts,) = attribute_columns(judgements, _VERDICT_NAME)
    quote, addresses = string_column(addresses)
    return (
        '{"ip": ' + quote, addresses,
        quote + ', "verdict": ', list(map(_VERDICT_TEXT.__getitem__, verdicts)),
        ', "packets": ', packets,
        ', "bytes": ', sizes,
        ', "flows": ', flows,
        ', "first_frame": ', first_frames,
        ', "first_seen": ', json_times(first_seen),
        ', "last_seen": ', json_times(last_seen),
        "}",
    )


_SIGHTING_FINDING_NAMES = ("endpoint", "judgement")
_VERDICT_NAME = ("verdict",)


def _texts(
    parts: Callable[[list[Finding]], Parts], findings: Iterable[Finding], opener: str,
    separator: str,
) -> Iterator[str]:
    """The findings' lines CHUNK to a text (column_lines.lines_text): `opener` before the first
    line, `separator` before every other. A line joined on its own, then written on its own,
    cost as much as the rest of its making (two more copies of ~2 KB and a write each); a text
    holds one chunk of lines, so memory stays bounded all the same."""
    before = opener
    remaining = iter(findings)
    while chunk := list(islice(remaining, CHUNK)):
        yield lines_text(before, separator, parts(chunk))
        before = separator
