"""The JSON report's endpoint lines, each the text json_format would encode, made from parts.

An endpoint's line is ~2 KB, and most of it says where the databases put it and how it was
judged: endpoints of one network share their location (all but the address), their Judgement
and, without round trips or hints, their evidence. Those parts are encoded once per place and
joined with what is the endpoint's own (address, counts, ports, times), so a hundred thousand
endpoints cost a few encodings per place, not a 30-key dict each. Every part is encoded by the
same C encoder the whole line would be; a test holds each line equal to that whole encoding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from auditor.model import (
    CountryAnswer,
    Evidence,
    Finding,
    Judgement,
    Location,
    LocationFlag,
    Policy,
    RoleClaim,
)
from auditor.report.escape import clean, clean_optional
from auditor.report.evidence_view import answer_json, confidence, evidence_json
from auditor.report.view import flags_of, iso_time

# What json_format's whole-line encoder writes: ", " and ": " between items, text as it is.
ONE_LINE: Callable[[object], str] = json.JSONEncoder(
    ensure_ascii=False, separators=(", ", ": ")
).encode
_STRING: Callable[[str], str] = json.encoder.encode_basestring

# Each cache starts again past this many parts: a million endpoints each with a reason of its
# own (one naming its address) cost encodings, never unbounded memory.
_LIMIT = 20_000


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


def _place_key(location: Location) -> tuple[Hashable, ...]:
    """Every field of a location but its address. The answers tuple is keyed by identity (the
    locator shares one per place; hashing its records field by field cost more than the
    encoding saved): the cache holds the tuple, so its identity cannot pass to another."""
    return (
        id(location.answers),
        location.country,
        location.registered_country,
        location.represented_country,
        location.city,
        location.asn,
        location.org,
        location.address_class,
        location.is_anycast,
        location.accuracy_radius,
        location.flags,
    )


def _is_bare(evidence: Evidence) -> bool:
    """Nothing beyond the databases: the evidence part follows from location and judgement."""
    return not (
        evidence.round_trips
        or evidence.bounds
        or evidence.hints
        or evidence.refutations
        or evidence.set_aside
    )


@dataclass(slots=True)
class _Place:
    """One place's encoded parts: what the location decides, and its answers (which the
    evidence repeats); the evidence without round trips or hints, per judgement."""

    answers: tuple[CountryAnswer, ...]  # held: the place's key is this tuple's identity
    located: str
    answers_text: str
    evidence: dict[Judgement, str] = field(default_factory=dict)


# A place's bare evidence is kept for this many judgements: more are reasons of their own (one
# naming each address), encoded each time.
_JUDGEMENTS_PER_PLACE = 8


class EndpointLines:
    """Encodes endpoint lines for one policy, remembering the parts endpoints share.

    A place's parts cost one encoding of each database answer it has never met (answers
    recur: a country database gives a few hundred, a city database one per city) and the
    few keys around them; at a hundred thousand servers in twenty thousand places, encoding
    each place's answers whole twice (its location, its evidence) was most of the report."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._places: dict[tuple[Hashable, ...], _Place] = {}
        self._answers: dict[CountryAnswer, str] = {}
        self._judged: dict[Judgement, str] = {}
        self._lists: dict[tuple[str, ...], str] = {}
        self._roles: dict[tuple[RoleClaim, ...], str] = {}

    def line(self, finding: Finding) -> str:
        """The endpoint's one-line JSON object, as json_format.endpoint_json encodes."""
        endpoint, judgement = finding.endpoint, finding.judgement
        place = self._place(finding)
        return (
            f'{{"ip": {_STRING(clean(endpoint.ip))}, "verdict": "{judgement.verdict.value}", '
            f"{place.located}, "
            f'"packets": {endpoint.packets!r}, "bytes": {endpoint.bytes!r}, '
            f'"flows": {endpoint.flows!r}, "ports": {self._list(endpoint.ports)}, '
            f'"protocols": {self._list(endpoint.protocols)}, '
            f'"hostnames": {self._list(endpoint.hostnames)}, '
            f'"platform": {_optional(endpoint.platform)}, '
            f'"platform_basis": {_raw(endpoint.platform_basis)}, '
            f'"roles": {self._roles_text(finding)}, '
            f'"server_reason": "{endpoint.reason.value}", '
            f'"first_seen": {_raw(iso_time(endpoint.first_seen))}, '
            f'"last_seen": {_raw(iso_time(endpoint.last_seen))}, '
            f'"first_frame": {endpoint.first_frame!r}, '
            f'"captures": {self._list(endpoint.captures)}, '
            f"{self._judged_text(judgement, finding)}, "
            f'"evidence": {self._evidence_text(place, finding)}}}'
        )

    def _place(self, finding: Finding) -> _Place:
        location = finding.location
        key = _place_key(location)
        place = self._places.get(key)
        if place is None:
            answers = "[" + ", ".join(map(self._answer_text, location.answers)) + "]"
            located = f'{_inner(_place_part(location, finding))}, "answers": {answers}'
            place = _Place(location.answers, located, answers)
            _remember(self._places, key, place)
        return place

    def _answer_text(self, answer: CountryAnswer) -> str:
        text = self._answers.get(answer)
        if text is None:
            text = ONE_LINE(answer_json(answer))
            _remember(self._answers, answer, text)
        return text

    def _judged_text(self, judgement: Judgement, finding: Finding) -> str:
        if finding.acceptance is not None:  # the finding's own: not shared
            return _inner(judged_part(judgement, finding, self._policy))
        text = self._judged.get(judgement)
        if text is None:
            text = _inner(judged_part(judgement, finding, self._policy))
            _remember(self._judged, judgement, text)
        return text

    def _evidence_text(self, place: _Place, finding: Finding) -> str:
        if not _is_bare(finding.evidence):
            return ONE_LINE(evidence_json(finding))
        text = place.evidence.get(finding.judgement)
        if text is None:
            text = _bare_evidence(finding, place.answers_text)
            if len(place.evidence) < _JUDGEMENTS_PER_PLACE:
                place.evidence[finding.judgement] = text
        return text

    def _list(self, items: tuple[str, ...]) -> str:
        text = self._lists.get(items)
        if text is None:
            text = ONE_LINE([clean(item) for item in items])
            _remember(self._lists, items, text)
        return text

    def _roles_text(self, finding: Finding) -> str:
        roles = finding.endpoint.roles
        text = self._roles.get(roles)
        if text is None:
            text = ONE_LINE([{"role": c.role.value, "evidence": clean(c.evidence)} for c in roles])
            _remember(self._roles, roles, text)
        return text


def _bare_evidence(finding: Finding, answers: str) -> str:
    """evidence_json's encoding when nothing beyond the databases is known (_is_bare): every
    list of its own empty, no bound so no possible countries, the answers as encoded."""
    radius = finding.location.accuracy_radius
    return (
        f'{{"confidence": "{confidence(finding).value}", "answers": {answers}, '
        f'"accuracy_radius_km": {"null" if radius is None else ONE_LINE(radius)}, '
        '"round_trips": [], "bounds": [], '
        '"possible_countries": null, "hints": [], "refutations": [], "set_aside": []}'
    )


def _optional(text: str | None) -> str:
    return "null" if text is None else _STRING(clean(text))


def _raw(text: str | None) -> str:
    """Text the auditor made itself (a time, an enum's value): encoded, not cleaned."""
    return "null" if text is None else _STRING(text)


def sighting_line(finding: Finding) -> str:
    """A capture section's endpoint line: json_format's sighting row, encoded."""
    endpoint = finding.endpoint
    return (
        f'{{"ip": {_STRING(clean(endpoint.ip))}, "verdict": "{finding.judgement.verdict.value}", '
        f'"packets": {endpoint.packets!r}, "bytes": {endpoint.bytes!r}, '
        f'"flows": {endpoint.flows!r}, "first_frame": {endpoint.first_frame!r}, '
        f'"first_seen": {_raw(iso_time(endpoint.first_seen))}, '
        f'"last_seen": {_raw(iso_time(endpoint.last_seen))}}}'
    )


def _remember(cache: dict[Any, Any], key: object, value: object) -> None:
    if len(cache) >= _LIMIT:
        cache.clear()
    cache[key] = value
