"""An endpoint's evidence as report data: JSON-ready, and a short confidence marker."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from auditor.geo.physics import located_countries
from auditor.geo.precision import answer_precision
from auditor.model import Basis, CountryAnswer, Evidence, Finding, RoundTrip, Vantage, Verdict
from auditor.report.escape import clean, clean_optional

JsonObject = dict[str, Any]


class Confidence(StrEnum):
    """How well the evidence supports a verdict, for the table's short marker."""

    PHYSICS = "physics"  # decided by round trips alone, or a round trip confirms the country
    AGREED = "agreed"  # two or more sources name the same country, nothing refutes it
    SINGLE = "single"  # one source, nothing to check it against
    DISPUTED = "disputed"  # sources disagree, or a round trip refutes one
    NONE = "none"  # local, or nothing known

    @property
    def marker(self) -> str:
        return _MARKERS[self]


_MARKERS = {
    Confidence.PHYSICS: "rtt",
    Confidence.AGREED: "2+",
    Confidence.SINGLE: "1",
    Confidence.DISPUTED: "?!",
    Confidence.NONE: "",
}


def confidence(finding: Finding) -> Confidence:
    evidence, judgement, location = finding.evidence, finding.judgement, finding.location
    if judgement.verdict is Verdict.LOCAL:
        return Confidence.NONE
    if judgement.basis is Basis.RTT:
        return Confidence.PHYSICS
    claimed = set(located_countries(location))
    claimed |= {h.country for h in evidence.hints if not h.refuted}
    refuted = {r.country for r in evidence.refutations}
    if refuted or len(claimed - refuted) > 1:
        return Confidence.DISPUTED
    judged = judgement.judged_country
    if judged is None:
        return Confidence.NONE
    if evidence.bounds and all(judged in b.countries for b in evidence.bounds):
        return Confidence.PHYSICS
    support = sum(1 for a in location.answers if a.country == judged)
    support += sum(1 for h in evidence.hints if h.country == judged and not h.refuted)
    return Confidence.AGREED if support >= 2 else Confidence.SINGLE


def evidence_label(finding: Finding) -> str:
    """The evidence in one line of words, for the HTML report's reason cell."""
    evidence = finding.evidence
    parts = []
    for bound in evidence.bounds:
        ms = bound.round_trip.seconds * 1000
        parts.append(
            f"{ms:.1f} ms from {bound.vantage.label}: within {bound.radius_km:,.0f} km"
        )
    if not evidence.bounds and evidence.round_trips:
        fastest = min(evidence.round_trips, key=lambda t: t.seconds)
        parts.append(f"round trip {fastest.seconds * 1000:.1f} ms (no vantage)")
    parts.extend(
        f"hint {h.place} ({h.vendor}, {h.name}){' refuted' if h.refuted else ''}"
        for h in evidence.hints
    )
    refuted = sorted({r.country for r in evidence.refutations})
    if refuted:
        parts.append(f"refuted: {', '.join(refuted)}")
    parts.extend(f"set aside: {reason}" for reason in evidence.set_aside[:1])
    return "; ".join(parts)


def answer_json(answer: CountryAnswer) -> JsonObject:
    """One database's answer with the place and radius it claims, and what that is worth."""
    return {
        "database": clean(answer.database),
        "country": clean_optional(answer.country),
        "registered_country": clean_optional(answer.registered_country),
        "represented_country": clean_optional(answer.represented_country),
        "latitude": answer.latitude,
        "longitude": answer.longitude,
        "accuracy_radius_km": answer.accuracy_radius,
        "precision": answer_precision(answer).value,
    }


def vantage_json(vantage: Vantage) -> JsonObject:
    return {
        "latitude": round(vantage.latitude, 4),
        "longitude": round(vantage.longitude, 4),
        "radius_km": round(vantage.radius_km, 1),
        "source": vantage.source.value,
        "place": vantage.place.value,
        "label": clean(vantage.label),
        "capture": clean(vantage.capture) if vantage.capture is not None else None,
    }


def _round_trip(trip: RoundTrip) -> JsonObject:
    return {
        "capture": clean(trip.capture),
        "kind": trip.kind.value,
        "ms": round(trip.seconds * 1000, 3),
        "samples": trip.samples,
    }


def evidence_json(finding: Finding) -> JsonObject:
    """Every piece of evidence behind one endpoint's verdict."""
    evidence: Evidence = finding.evidence
    return {
        "confidence": confidence(finding).value,
        "answers": [answer_json(a) for a in finding.location.answers],
        "accuracy_radius_km": finding.location.accuracy_radius,
        "round_trips": [_round_trip(t) for t in evidence.round_trips],
        "bounds": [
            {
                "capture": clean(b.capture),
                "vantage": vantage_json(b.vantage),
                "round_trip": _round_trip(b.round_trip),
                "radius_km": round(b.radius_km, 1),
                "countries": sorted(b.countries),
            }
            for b in evidence.bounds
        ],
        "possible_countries": sorted(p) if (p := evidence.possible) is not None else None,
        "hints": [
            {
                "name": clean(h.name),
                "source": h.source.value,
                "vendor": h.vendor,
                "code": clean(h.code),
                "place": h.place,
                "country": h.country,
                "latitude": h.latitude,
                "longitude": h.longitude,
                "refuted": h.refuted,
            }
            for h in evidence.hints
        ],
        "refutations": [
            {
                "source": r.source.value,
                "what": clean(r.what),
                "country": clean(r.country),
                "distance_km": round(r.distance_km, 1),
                "bound_km": round(r.bound_km, 1),
                "capture": clean(r.capture),
            }
            for r in evidence.refutations
        ],
        "set_aside": [clean(s) for s in evidence.set_aside],
    }
