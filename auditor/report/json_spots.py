"""The middle of a JSON report's endpoint line, its spot: where the endpoint is (its place, the
keys from "country" to "answers") and how it was judged there (its tail, from "captures" to the
end of the line), as texts that many lines share.

A hundred thousand servers sit in some twenty thousand places, each met first somewhere in the
report. A place's text and its tail were made whole there (~3 KB, its answers written twice),
each through some fifteen Python calls: 0.41 of the report's 0.9 CPU s. A spot is instead five
texts the line's columns give (column_lines.lines_text joins them in C), each shared: the place's
keys by its fields, its answers (json_places.PlaceTexts), the tail's head by captures, judgement
and the countries its confidence follows, its end by the radius. Only a finding with evidence
or an acceptance of its own has a tail of its own, made whole as before.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import compress
from operator import add, attrgetter, itemgetter, not_
from types import NoneType
from typing import Any

from auditor.model import (
    Acceptance,
    CountryAnswer,
    Evidence,
    Finding,
    Judgement,
    Location,
    Policy,
    ServerEndpoint,
    Verdict,
)
from auditor.report import json_text
from auditor.report.columns import attribute_columns
from auditor.report.escape import clean
from auditor.report.evidence_view import confidence, evidence_json
from auditor.report.json_places import BARE_END, PlaceTexts
from auditor.report.json_text import ONE_LINE, STRING, remember, scalar_text

# A line's texts between its address and its packets (head: ', "verdict"' to '"answers": ', and
# the answers) and after its first frame (tail: ', "captures"' to the evidence's '"answers": ',
# the answers again, end: ', "accuracy_radius_km"' to the line's end; or a tail of its own,
# whole, then "" and ""), and what the key names by identity, held. A plain tuple: made
# twenty thousand times a report by zip(), where a NamedTuple's __new__ is a Python call.
Spot = tuple[str, str, str, str, str, tuple[CountryAnswer, ...], Judgement]


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


def is_bare(evidence: Evidence) -> bool:
    """Nothing beyond the databases: the evidence part follows from location and judgement."""
    return not (
        evidence.round_trips
        or evidence.bounds
        or evidence.hints
        or evidence.refutations
        or evidence.set_aside
    )


_ANSWERS = attrgetter("answers")
_CAPTURES = attrgetter("captures")
_JUDGEMENT = attrgetter("judgement")
_EVIDENCE_LISTS = attrgetter("round_trips", "bounds", "hints", "refutations", "set_aside")
_COUNTRY = attrgetter("country")
_ENDPOINT = attrgetter("endpoint")
_VERDICT = attrgetter("judgement.verdict")
_TEXT = itemgetter(0)
# A line's "verdict" key, before its place: the spot's key names the judgement (by identity),
# so the spot's head carries it and the line has a column fewer (two passes over a chunk).
VERDICT_KEY = {verdict: f', "verdict": {STRING(verdict.value)}, ' for verdict in Verdict}
# A place is every field of a location but its address, and its answers by identity (the
# locator shares one tuple per place; the spot holds it, so the id is never another's).
_PLACE_NAMES = (
    "country", "registered_country", "represented_country", "city", "asn", "org",
    "address_class", "is_anycast", "accuracy_radius", "flags",
)  # fmt: skip
_PLACE_FIELDS = attrgetter(*_PLACE_NAMES)
_ASN_AT, _ANYCAST_AT, _RADIUS_AT = map(_PLACE_NAMES.index, ("asn", "is_anycast", "accuracy_radius"))
# What a chunk reads of its findings and their locations, a column a name (columns.py).
_FINDING_NAMES = ("judgement", "evidence", "acceptance")
_LOCATION_NAMES = ("answers", *_PLACE_NAMES)
_RADIUS = attrgetter("accuracy_radius")
_WRITTEN_ONE_WAY = {int, NoneType}
SpotKey = tuple[int, tuple[Hashable, ...], tuple[str, ...], int]


class Spots:
    """Each finding's spot, remembering the spots and the parts they share."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._texts = PlaceTexts()
        self._spots: dict[SpotKey, Spot] = {}
        self._heads: dict[tuple[Hashable, ...], str] = {}
        self._tails: dict[tuple[Hashable, ...], tuple[str, Judgement]] = {}  # the judgement held
        self._ends: dict[int | None, str] = {}
        self._judged: dict[Judgement, str] = {}
        self._captures: dict[tuple[str, ...], str] = {}

    def of(
        self, findings: list[Finding], endpoints: list[ServerEndpoint], locations: list[Location],
        captures: list[tuple[str, ...]],
    ) -> list[Spot]:
        """Each finding's spot (`captures` its endpoint's), looked up by a key made in C (its
        place, its captures, its judgement's identity); the spots the chunk meets first made
        together (_made)."""
        judgements, evidences, acceptances = attribute_columns(findings, _FINDING_NAMES)
        answers, *fields = attribute_columns(locations, _LOCATION_NAMES)
        # Fields equal under == but written differently (an ASN 1, 1.0 or True) must never
        # share a text: a chunk holding any such number shares nothing (none does in practice).
        keys: list[SpotKey] | None = None
        if _written_one_way(fields):
            keys = list(zip(
                map(id, answers), zip(*fields, strict=True), captures, map(id, judgements),
                strict=True,
            ))  # fmt: skip
            found: list[Spot | None] = list(map(self._spots.get, keys))
        else:
            found = [None] * len(findings)
        own = _own_tails(evidences, acceptances)
        if own is not None:
            for index in compress(range(len(own)), own):
                found[index] = self._own_spot(findings[index], keys is not None)
        if not all(found):  # (a spot is a tuple of texts, always true)
            self._fill(found, keys, findings, locations)
        return found  # type: ignore[return-value]

    def _fill(
        self, found: list[Spot | None], keys: list[SpotKey] | None, findings: list[Finding],
        locations: list[Location],
    ) -> None:
        """The spots not found, each key's made once and remembered (none when keys is None:
        then each line's is its own)."""
        missing = list(compress(range(len(found)), map(not_, found)))
        if keys is None:
            made = self._made([findings[i] for i in missing], [locations[i] for i in missing], None)
            for index, spot in zip(missing, made, strict=True):
                found[index] = spot
            return
        firsts = dict(zip(map(keys.__getitem__, missing), missing, strict=True))  # a key once
        lines = list(firsts.values())
        made = self._made(list(map(findings.__getitem__, lines)),
                          list(map(locations.__getitem__, lines)),
                          [key[1] for key in firsts])  # fmt: skip
        spots = dict(zip(firsts, made, strict=True))
        for index in missing:
            found[index] = spots[keys[index]]
        if len(self._spots) + len(spots) > json_text.LIMIT:
            self._spots.clear()
        self._spots.update(spots)

    def _made(
        self, findings: list[Finding], locations: list[Location],
        fields: list[tuple[Hashable, ...]] | None,
    ) -> list[Spot]:
        """The findings' spots, each part a column: the place's keys (shared by `fields`
        when given), its answers, the tail's head and its end."""
        answers = list(map(_ANSWERS, locations))
        texts = self._texts.answer_lists(answers)
        heads = list(map(add, map(VERDICT_KEY.__getitem__, map(_VERDICT, findings)),
                         self._heads_of(locations, fields)))  # fmt: skip
        tails = self._tail_heads(findings, locations, answers)
        ends = list(map(self._end, map(_RADIUS, locations)))
        return list(zip(heads, texts, tails, texts, ends, answers, map(_JUDGEMENT, findings),
                        strict=True))  # fmt: skip

    def _heads_of(
        self, locations: list[Location], fields: list[tuple[Hashable, ...]] | None
    ) -> list[str]:
        """The keys from "country" to "answers" (json_rows.located_part but the answers'
        text), shared by places of equal fields when `fields` is given."""
        if fields is None:
            return [self._texts.located(location, "") for location in locations]
        heads = list(map(self._heads.get, fields))
        for index in compress(range(len(heads)), map(not_, heads)):
            heads[index] = head = self._texts.located(locations[index], "")
            remember(self._heads, fields[index], head)
        return heads  # type: ignore[return-value]

    def _tail_heads(
        self, findings: list[Finding], locations: list[Location],
        answers: list[tuple[CountryAnswer, ...]],
    ) -> list[str]:
        """From "captures" to the evidence's "answers" key: what the captures and judgement
        decide, and the confidence (which bare evidence takes from the judgement, the located
        country and the answers' countries)."""
        keys = list(zip(
            map(_CAPTURES, map(_ENDPOINT, findings)), map(id, map(_JUDGEMENT, findings)),
            map(_COUNTRY, locations), [tuple(map(_COUNTRY, each)) for each in answers],
            strict=True,
        ))  # fmt: skip
        entries = list(map(self._tails.get, keys))
        for index in compress(range(len(entries)), map(not_, entries)):
            entries[index] = entry = self._tail_entry(findings[index])
            remember(self._tails, keys[index], entry)
        return list(map(_TEXT, entries))  # type: ignore[arg-type]

    def _tail_entry(self, finding: Finding) -> tuple[str, Judgement]:
        judgement = finding.judgement
        text = (
            f', "captures": {self._captures_text(finding.endpoint.captures)}, '
            f'{self._judged_text(judgement, finding)}, '
            f'"evidence": {{"confidence": {STRING(confidence(finding).value)}, "answers": '
        )
        return text, judgement  # the key names the judgement by identity: held

    def _own_spot(self, finding: Finding, exact: bool) -> Spot:
        """A finding with evidence or an acceptance of its own: its tail made whole."""
        location = finding.location
        fields = [_PLACE_FIELDS(location)] if exact else None
        (head,) = self._heads_of([location], fields)
        head = VERDICT_KEY[finding.judgement.verdict] + head
        (answers,) = self._texts.answer_lists([location.answers])
        if is_bare(finding.evidence):
            evidence = self._texts.bare_evidence(finding, answers)
        else:
            evidence = ONE_LINE(evidence_json(finding))
        tail = (
            f', "captures": {self._captures_text(finding.endpoint.captures)}, '
            f'{self._judged_text(finding.judgement, finding)}, "evidence": {evidence}}}'
        )
        return head, answers, tail, "", "", location.answers, finding.judgement

    def _end(self, radius: int | None) -> str:
        """From the evidence's "accuracy_radius_km" to the line's end."""
        if radius is not None and type(radius) is not int:  # 1.0 and True are written apart
            return f', "accuracy_radius_km": {scalar_text(radius)}, {BARE_END}}}'
        text = self._ends.get(radius)
        if text is None:
            text = f', "accuracy_radius_km": {scalar_text(radius)}, {BARE_END}}}'
            remember(self._ends, radius, text)
        return text

    def _judged_text(self, judgement: Judgement, finding: Finding) -> str:
        if finding.acceptance is not None:  # the finding's own: not shared
            return ONE_LINE(judged_part(judgement, finding, self._policy))[1:-1]
        text = self._judged.get(judgement)
        if text is None:
            text = ONE_LINE(judged_part(judgement, finding, self._policy))[1:-1]
            remember(self._judged, judgement, text)
        return text

    def _captures_text(self, captures: tuple[str, ...]) -> str:
        text = self._captures.get(captures)
        if text is None:
            text = ONE_LINE([clean(capture) for capture in captures])
            remember(self._captures, captures, text)
        return text


def _written_one_way(fields: list[list[Any]]) -> bool:
    """Every ASN and radius an int or None, every anycast a bool, by exact type, among the
    _PLACE_NAMES columns: the place's fields are then written as they compare."""
    numbers = set(map(type, fields[_ASN_AT]))
    numbers.update(map(type, fields[_RADIUS_AT]))
    return numbers <= _WRITTEN_ONE_WAY and set(map(type, fields[_ANYCAST_AT])) == {bool}


def _own_tails(
    evidences: list[Evidence], acceptances: list[Acceptance | None]
) -> list[bool] | None:
    """Which findings (their evidence and acceptance columns) have evidence or an acceptance
    of their own; None when none has."""
    # Most findings share one empty Evidence: the lists are then looked at once.
    if len(set(map(id, evidences))) == 1 and is_bare(evidences[0]):
        own = None
    else:
        own = list(map(any, map(_EVIDENCE_LISTS, evidences)))
        if True not in own:
            own = None
    if acceptances.count(None) == len(acceptances):
        return own
    accepted = [acceptance is not None for acceptance in acceptances]
    return accepted if own is None else [a or b for a, b in zip(own, accepted, strict=True)]
