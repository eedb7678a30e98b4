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
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from auditor.model import (
    CountryAnswer,
    Evidence,
    Finding,
    Judgement,
    Location,
    LocationFlag,
    Policy,
    RoleClaim,
    ServerEndpoint,
    Verdict,
)
from auditor.report import json_text
from auditor.report.column_lines import Parts, each_line, lines_text
from auditor.report.escape import clean, clean_each, clean_optional
from auditor.report.evidence_view import answer_json, evidence_json
from auditor.report.json_places import PlaceTexts
from auditor.report.json_text import ONE_LINE, remember
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


def judged_part(judgement: Judgement, finding: Finding, policy: Policy) -> dict[str, Any]:
    """The keys the judgement decides, from "reason" to "judged_country"."""
    severity = finding.severity(policy)
    return {
        "reason": clean(judgement.reason),
        "severity": severity.value if severity is not None else None,
        "acceptance": acceptance_json(finding),
        "basis": judgement.basis,
        "judged_country": judgement.judged_country,
    }


def acceptance_json(finding: Finding) -> dict[str, Any] | None:
    acceptance = finding.acceptance
    if acceptance is None:
        return None
    return {
        "by": acceptance.by.value,
        "rule": clean(acceptance.rule),
        "justification": clean(acceptance.justification),
        "expires": acceptance.expires,
        "applies": acceptance.applies,
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


def _inner(part: dict[str, Any]) -> str:
    """A dict's items as the encoder writes them inside its braces."""
    return ONE_LINE(part)[1:-1]


def _is_bare(evidence: Evidence) -> bool:
    """Nothing beyond the databases: the evidence part follows from location and judgement."""
    return not (
        evidence.round_trips
        or evidence.bounds
        or evidence.hints
        or evidence.refutations
        or evidence.set_aside
    )


class _Place(NamedTuple):
    """One place's encoded parts: what the location decides, and its answers (which the
    evidence repeats). A tuple: made once per place, some twenty thousand times a report,
    where a frozen dataclass cost twice as much to make."""

    answers: tuple[CountryAnswer, ...]  # held: the place's key is this tuple's identity
    located: str
    answers_text: str

# Endpoint lines are made this many at a time, a column (every address, every count, every
# place) per step, each step one C-level pass over the column; the lines are then joined
# from the columns' texts. A line made finding by finding took some forty Python calls.
# A chunk's text (~1 MB of endpoint lines) is written at once: at 2048 lines a chunk the
# report's peak memory grew by 14 MB at 100k servers and the report was no faster.
CHUNK = 512

_ENDPOINT = attrgetter("endpoint")
_LOCATION = attrgetter("location")
_JUDGEMENT = attrgetter("judgement")
_VERDICT = attrgetter("judgement.verdict")
_ACCEPTANCE = attrgetter("acceptance")
_EVIDENCE = attrgetter("evidence")
_EVIDENCE_LISTS = attrgetter("round_trips", "bounds", "hints", "refutations", "set_aside")
_IP = attrgetter("ip")
_ANSWERS = attrgetter("answers")
# A place is every field of a location but its address. Its answers tuple is keyed by identity
# (the locator shares one per place; hashing its records field by field cost more than the
# encoding saved): the place's entry holds the tuple, so its identity cannot pass to another.
_PLACE_FIELDS = attrgetter(
    "country", "registered_country", "represented_country", "city", "asn", "org",
    "address_class", "is_anycast", "accuracy_radius", "flags",
)
# An endpoint's ports, names, platform and server reason, and its roles by identity (the
# roles stage shares one tuple per kind of endpoint; a RoleClaim hashes in Python).
_OWN_FIELDS = attrgetter("ports", "protocols", "hostnames", "platform", "platform_basis", "reason")
_ROLES = attrgetter("roles")
OwnKey = tuple[tuple[Hashable, ...], int]
OwnEntry = tuple[str, tuple[RoleClaim, ...]]  # the text, and the roles held
_PACKETS = attrgetter("packets")
_BYTES = attrgetter("bytes")
_FLOWS = attrgetter("flows")
_FIRST_FRAME = attrgetter("first_frame")
_FIRST_SEEN = attrgetter("first_seen")
_LAST_SEEN = attrgetter("last_seen")
_CAPTURES = attrgetter("captures")
_VERDICT_TEXT = {verdict: _STRING(verdict.value) for verdict in Verdict}

PlaceKey = tuple[int, tuple[Hashable, ...]]  # the answers' identity, the other fields
# Captures, the place's and the judgement's identity (both held while the key is).
TailKey = tuple[tuple[str, ...], int, int]


class EndpointLines:
    """Encodes endpoint lines for one policy, remembering the parts endpoints share.

    A place's parts cost one encoding of each database answer it has never met (answers
    recur: a country database gives a few hundred, a city database one per city) and the
    few keys around them; at a hundred thousand servers in twenty thousand places, encoding
    each place's answers whole twice (its location, its evidence) was most of the report.
    The parts an endpoint shares with others (its place; its ports, names, platform and roles;
    its captures, judgement and evidence) are each looked up once per line by a key made in C."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._places: dict[PlaceKey, _Place] = {}
        self._place_texts = PlaceTexts()
        self._judged: dict[Judgement, str] = {}
        self._lists: dict[tuple[str, ...], str] = {}
        self._roles: dict[tuple[RoleClaim, ...], str] = {}
        self._own: dict[OwnKey, OwnEntry] = {}
        self._tails: dict[TailKey, str] = {}
        self._held: list[object] = []

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
        endpoints = list(map(_ENDPOINT, findings))
        locations = list(map(_LOCATION, findings))
        keys: list[PlaceKey] = list(
            zip(map(id, map(_ANSWERS, locations)), map(_PLACE_FIELDS, locations), strict=True)
        )
        places = self._places_of(keys, findings)
        own = self._own_of(endpoints)
        tails = self._tails_of(places, findings)
        return (
            '{"ip": ', list(map(_STRING, clean_each(list(map(_IP, endpoints))))),
            ', "verdict": ', list(map(_VERDICT_TEXT.__getitem__, map(_VERDICT, findings))),
            ", ", list(map(_LOCATED, places)),
            ', "packets": ', list(map(_PACKETS, endpoints)),
            ', "bytes": ', list(map(_BYTES, endpoints)),
            ', "flows": ', list(map(_FLOWS, endpoints)),
            own,
            json_times(list(map(_FIRST_SEEN, endpoints))),
            ', "last_seen": ', json_times(list(map(_LAST_SEEN, endpoints))),
            ', "first_frame": ', list(map(_FIRST_FRAME, endpoints)),
            tails,
        )

    def _places_of(self, keys: list[PlaceKey], findings: list[Finding]) -> list[_Place]:
        found: list[_Place | None] = list(map(self._places.get, keys))
        if not all(found):  # (a place is always true: `None in found` would call its __eq__)
            for index, place in enumerate(found):
                if place is None:
                    found[index] = self._place_of(keys[index], findings[index])
        return found  # type: ignore[return-value]

    def _place_of(self, key: PlaceKey, finding: Finding) -> _Place:
        place = self._places.get(key)  # met earlier in the same chunk
        if place is None:
            place = self._place(finding)
            remember(self._places, key, place)
        return place

    def _place(self, finding: Finding) -> _Place:
        location = finding.location
        answers = self._place_texts.answers(location.answers)
        return _Place(location.answers, self._place_texts.located(location, answers), answers)

    def _own_of(self, endpoints: list[ServerEndpoint]) -> list[str]:
        """Each endpoint's _own_text, looked up by a key made in C."""
        keys: list[OwnKey] = list(zip(map(_OWN_FIELDS, endpoints), map(id, map(_ROLES, endpoints)),
                                      strict=True))
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

    def _tails_of(self, places: list[_Place], findings: list[Finding]) -> list[str]:
        """From "captures" to the end of each line: what the finding's captures, place and
        judgement decide, shared unless the finding has an acceptance or evidence of its own."""
        keys: list[TailKey] = list(zip(map(_CAPTURES, map(_ENDPOINT, findings)), map(id, places),
                                       map(id, map(_JUDGEMENT, findings)), strict=True))
        evidences = list(map(_EVIDENCE, findings))
        # Most findings share one empty Evidence: the lists are then looked at once.
        if len(set(map(id, evidences))) == 1 and _is_bare(evidences[0]):
            own = [False] * len(evidences)
        else:
            own = list(map(any, map(_EVIDENCE_LISTS, evidences)))
        acceptances = list(map(_ACCEPTANCE, findings))
        if True in own or acceptances.count(None) != len(acceptances):
            return [
                self._tail(place, finding) if is_own or acceptance is not None  # its own
                else self._shared_tail(key, place, finding)
                for key, place, finding, is_own, acceptance
                in zip(keys, places, findings, own, acceptances, strict=True)
            ]
        found: list[str | None] = list(map(self._tails.get, keys))
        if None in found:
            for index, text in enumerate(found):
                if text is None:
                    found[index] = self._shared_tail(keys[index], places[index], findings[index])
        return found  # type: ignore[return-value]

    def _shared_tail(self, key: TailKey, place: _Place, finding: Finding) -> str:
        text = self._tails.get(key)  # met earlier in the same chunk
        if text is None:
            if len(self._tails) >= json_text.LIMIT:
                self._tails.clear()
                self._held.clear()
            text = self._tails[key] = self._tail(place, finding)
            # The key names the place and the judgement by identity: both are held while it
            # is, so an id is never another's.
            self._held.extend((place, finding.judgement))
        return text

    def _tail(self, place: _Place, finding: Finding) -> str:
        return (
            f', "captures": {self._list(finding.endpoint.captures)}, '
            f"{self._judged_text(finding.judgement, finding)}, "
            f'"evidence": {self._evidence_text(place, finding)}}}'
        )

    def _judged_text(self, judgement: Judgement, finding: Finding) -> str:
        if finding.acceptance is not None:  # the finding's own: not shared
            return _inner(judged_part(judgement, finding, self._policy))
        text = self._judged.get(judgement)
        if text is None:
            text = _inner(judged_part(judgement, finding, self._policy))
            remember(self._judged, judgement, text)
        return text

    def _evidence_text(self, place: _Place, finding: Finding) -> str:
        if not _is_bare(finding.evidence):
            return ONE_LINE(evidence_json(finding))
        return self._place_texts.bare_evidence(finding, place.answers_text)

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


_LOCATED = attrgetter("located")
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
    endpoints = list(map(_ENDPOINT, findings))
    return (
        '{"ip": ', list(map(_STRING, clean_each(list(map(_IP, endpoints))))),
        ', "verdict": ', list(map(_VERDICT_TEXT.__getitem__, map(_VERDICT, findings))),
        ', "packets": ', list(map(_PACKETS, endpoints)),
        ', "bytes": ', list(map(_BYTES, endpoints)),
        ', "flows": ', list(map(_FLOWS, endpoints)),
        ', "first_frame": ', list(map(_FIRST_FRAME, endpoints)),
        ', "first_seen": ', json_times(list(map(_FIRST_SEEN, endpoints))),
        ', "last_seen": ', json_times(list(map(_LAST_SEEN, endpoints))),
        "}",
    )


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
