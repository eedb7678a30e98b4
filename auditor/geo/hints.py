"""Hostname hints: the site a vendor's own naming gives a server (auditor/data/hints.json).

A hint is evidence, never a verdict: the judging stage weighs it beside the databases, and
physics can refute it like any other source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from auditor.geo.places import fold
from auditor.model import HintSource, HostnameHint, NameSource
from auditor.names import MAX_NAME

HINTS_FILE = "hints.json"


@dataclass(frozen=True, slots=True)
class Site:
    code: str
    place: str
    country: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class VendorRule:
    vendor: str
    pattern: re.Pattern[str]
    codes: Mapping[str, str] | None  # site code in the name -> key of sites; None: the sites
    source: str


@dataclass(frozen=True, slots=True)
class HintTable:
    sites: Mapping[str, Site]
    rules: tuple[VendorRule, ...]

    def site_named(self, place: str) -> Site | None:
        """A site by its city name, for --vantage (case and spaces ignored)."""
        wanted = fold(place)
        return next((s for s in self.sites.values() if fold(s.place) == wanted), None)


@lru_cache(maxsize=1)
def hint_table() -> HintTable:
    raw = json.loads((resources.files("auditor") / "data" / HINTS_FILE).read_text("utf-8"))
    sites = {
        code: Site(code, s["place"], s["country"], float(s["latitude"]), float(s["longitude"]))
        for code, s in raw["sites"].items()
    }
    rules = tuple(
        VendorRule(
            v["vendor"],
            re.compile(v["pattern"]),
            None if v["codes"] == "sites" else dict(v["codes"]),
            v["source"],
        )
        for v in raw["vendors"]
    )
    return HintTable(sites, rules)


def hint_for(name: str, source: HintSource, table: HintTable | None = None) -> HostnameHint | None:
    """The first vendor rule whose pattern places ``name`` at a known site, if any."""
    table = table or hint_table()
    folded = name.lower().rstrip(".")
    if len(folded) > MAX_NAME:
        return None
    for rule in table.rules:
        match = rule.pattern.search(folded)
        if match is None:
            continue
        code = match.group("code")
        key = code if rule.codes is None else rule.codes.get(code)
        site = table.sites.get(key) if key else None
        if site is not None:
            return HostnameHint(
                name, rule.vendor, code, site.place, site.country, site.latitude,
                site.longitude, source,
            )  # fmt: skip
    return None


def hints_for(names: Iterable[tuple[str, HintSource]]) -> tuple[HostnameHint, ...]:
    """Hints from every name an endpoint was reached as, one per distinct name."""
    found: dict[str, HostnameHint] = {}
    for name, source in names:
        if name not in found:
            hint = hint_for(name, source)
            if hint is not None:
                found[name] = hint
    return tuple(found.values())


def hint_source(source: NameSource) -> HintSource:
    return HintSource(source.value)
