"""An inline SVG world map for the HTML report: the vantages, each server's place as its hints
and databases give it, and the disk its round trip allows, drawn from the same country outlines
physics uses. Plain equirectangular projection, no scripts, no external resources.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

from auditor.geo.geometry import EARTH_RADIUS_KM, outlines
from auditor.model import Finding, PhysicsBound, Vantage, Verdict
from auditor.report.escape import html_text

SCALE = 2.0  # SVG units per degree: a 720 x 360 map
WIDTH, HEIGHT = 360 * SCALE, 180 * SCALE
SIMPLIFY_DEGREES = 0.4  # outline points closer than this to the last one kept are dropped
DISK_POINTS = 96
MAX_DISK_KM = 9_000.0  # wider disks cover most of a hemisphere: they are listed, not drawn
COLOURS = {
    Verdict.ALLOWED: "#2e7d32",
    Verdict.VIOLATION: "#c62828",
    Verdict.UNKNOWN: "#b8860b",
    Verdict.LOCAL: "#777777",
}


def _xy(longitude: float, latitude: float) -> tuple[float, float]:
    return (longitude + 180.0) * SCALE, (90.0 - latitude) * SCALE


def _path(points: Iterable[tuple[float, float]], close: bool = True) -> str:
    parts = []
    last_lon: float | None = None
    for lon, lat in points:
        x, y = _xy(lon, lat)
        # A jump across the antimeridian is a move, not a line across the whole map.
        jump = last_lon is None or abs(lon - last_lon) > 180.0
        parts.append(f"{'M' if jump else 'L'}{x:.1f},{y:.1f}")
        last_lon = lon
    return "".join(parts) + ("Z" if close else "")


@lru_cache(maxsize=1)
def land_path() -> str:
    """Every country's outline as one SVG path, simplified for the page's scale."""
    pieces = []
    for country in outlines().countries.values():
        for ring in country.rings:
            kept = _simplified(ring)
            if len(kept) >= 3:
                pieces.append(_path(kept))
    return "".join(pieces)


def _simplified(ring: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    kept = [ring[0]]
    for lon, lat in ring[1:]:
        last_lon, last_lat = kept[-1]
        if abs(lon - last_lon) + abs(lat - last_lat) >= SIMPLIFY_DEGREES:
            kept.append((lon, lat))
    return kept


def disk_paths(latitude: float, longitude: float, radius_km: float) -> list[str]:
    """The disk's edge (points at radius_km on the sphere), cut where it crosses the
    antimeridian so no stroke runs across the whole map."""
    lat1, lon1 = math.radians(latitude), math.radians(longitude)
    angle = radius_km / EARTH_RADIUS_KM
    edge = []
    for i in range(DISK_POINTS + 1):
        bearing = 2 * math.pi * i / DISK_POINTS
        lat2 = math.asin(
            math.sin(lat1) * math.cos(angle)
            + math.cos(lat1) * math.sin(angle) * math.cos(bearing)
        )
        lon2 = lon1 + math.atan2(
            math.sin(bearing) * math.sin(angle) * math.cos(lat1),
            math.cos(angle) - math.sin(lat1) * math.sin(lat2),
        )
        lon = (math.degrees(lon2) + 540.0) % 360.0 - 180.0
        edge.append((lon, math.degrees(lat2)))
    runs: list[list[tuple[float, float]]] = [[edge[0]]]
    for previous, point in itertools.pairwise(edge):
        if abs(point[0] - previous[0]) > 180.0:
            runs.append([])
        runs[-1].append(point)
    closed = len(runs) == 1
    if not closed:  # the edge ends where it began: its last run continues into its first
        runs[0] = runs.pop()[:-1] + runs[0]
    return [_path(run, close=closed) for run in runs if len(run) > 1]


def _marker(lon: float, lat: float, colour: str, title: str, shape: str = "circle") -> str:
    x, y = _xy(lon, lat)
    tip = f"<title>{html_text(title)}</title>"
    if shape == "vantage":
        return (
            f'<g><path d="M{x:.1f},{y - 6:.1f}L{x + 5:.1f},{y + 4:.1f}L{x - 5:.1f},{y + 4:.1f}Z" '
            f'fill="#1565c0" stroke="#fff" stroke-width="1"/>{tip}</g>'
        )
    return (
        f'<g><circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" stroke="#fff" '
        f'stroke-width="0.8"/>{tip}</g>'
    )


def _vantages(findings: Sequence[Finding]) -> list[Vantage]:
    seen: dict[tuple[float, float, str], Vantage] = {}
    for finding in findings:
        for bound in finding.evidence.bounds:
            v = bound.vantage
            seen.setdefault((v.latitude, v.longitude, v.label), v)
    return list(seen.values())


def _disk(bound: PhysicsBound, finding: Finding, colour: str) -> str:
    v = bound.vantage
    reach_degrees = math.degrees(bound.radius_km / EARTH_RADIUS_KM)
    if bound.radius_km > MAX_DISK_KM or reach_degrees >= 90.0 - abs(v.latitude):
        return ""  # it reaches a pole: on this projection no longer a disk; the table says it
    ms = bound.round_trip.seconds * 1000
    title = (
        f"{finding.endpoint.ip}: {ms:.1f} ms from {v.label}: within {bound.radius_km:,.0f} km"
    )
    paths = "".join(
        f'<path d="{d}" fill="{colour}" fill-opacity="0.03" stroke="{colour}" '
        f'stroke-width="0.8" stroke-dasharray="3,2"/>'
        for d in disk_paths(v.latitude, v.longitude, bound.radius_km)
    )
    return f"<g>{paths}<title>{html_text(title)}</title></g>"


def _server_marks(finding: Finding, colour: str) -> list[str]:
    marks = []
    refuted = {(r.what, r.country) for r in finding.evidence.refutations}
    for answer in finding.location.answers:
        if answer.latitude is None or answer.longitude is None:
            continue
        state = "refuted" if (answer.database, answer.country) in refuted else "answer"
        title = f"{finding.endpoint.ip}: {answer.database} says {answer.country} ({state})"
        marks.append(_marker(answer.longitude, answer.latitude, colour, title))
    for hint in finding.evidence.hints:
        state = "refuted" if hint.refuted else "hint"
        title = f"{finding.endpoint.ip} ({hint.name}): {hint.vendor} {hint.place} {state}"
        marks.append(_marker(hint.longitude, hint.latitude, colour, title))
    return marks


def world_map(findings: Sequence[Finding]) -> str:
    """The map, or "" when no endpoint has a round-trip bound or a placed hint."""
    shown = [f for f in findings if f.evidence.bounds or f.evidence.hints]
    if not shown:
        return ""
    disks: list[str] = []
    marks: list[str] = []
    for finding in shown:
        colour = COLOURS[finding.judgement.verdict]
        disks.extend(_disk(b, finding, colour) for b in finding.evidence.bounds)
        marks.extend(_server_marks(finding, colour))
    vantages = [
        _marker(v.longitude, v.latitude, "", f"vantage: {v.label} ({v.source.value})", "vantage")
        for v in _vantages(shown)
    ]
    return (
        f'<svg class="map" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
        'aria-label="vantages, servers and round-trip disks" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="{WIDTH:.0f}" height="{HEIGHT:.0f}" fill="#eef4f8"/>'
        f'<path d="{land_path()}" fill="#dfe3d8" stroke="#9aa39a" stroke-width="0.3"/>'
        f"{''.join(disks)}{''.join(marks)}{''.join(vantages)}</svg>"
    )
