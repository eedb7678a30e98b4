"""The named jurisdiction groups a policy may use, over the ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

from auditor.countries import COUNTRY_NAMES

# Common non-ISO spellings people type: the EU writes Greece as EL, and the UK is not "GB" to
# most users. They are reserved in ISO 3166-1, so taking them as aliases cannot clash.
ALIASES: Mapping[str, str] = MappingProxyType({"UK": "GB", "EL": "GR"})

EU: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)  # the 27 member states, unchanged since the UK left on 2020-01-31, still 27 in 2026
EFTA: frozenset[str] = frozenset({"CH", "IS", "LI", "NO"})
EEA: frozenset[str] = EU | {"IS", "LI", "NO"}  # Switzerland is in EFTA but not in the EEA
FIVE_EYES: frozenset[str] = frozenset({"AU", "CA", "GB", "NZ", "US"})
# Countries with a European Commission adequacy decision under GDPR Art. 45, as of 2025-01-01.
# Canada (commercial organisations under PIPEDA) and the United States (only organisations
# certified under the EU-US Data Privacy Framework) are partial: allowing this group allows
# the whole country, which is more than the decision covers.
GDPR_ADEQUACY: frozenset[str] = frozenset(
    ["AD", "AR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ", "US", "UY"]
)

GROUPS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "EU": EU,
        "EEA": EEA,
        "EFTA": EFTA,
        "FIVE_EYES": FIVE_EYES,
        "GDPR_ADEQUACY": GDPR_ADEQUACY,
    }
)

GROUP_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "FVEY": "FIVE_EYES",
        "FIVE-EYES": "FIVE_EYES",
        "FIVEEYES": "FIVE_EYES",
        "5EYES": "FIVE_EYES",
        "GDPR-ADEQUACY": "GDPR_ADEQUACY",
        "ADEQUACY": "GDPR_ADEQUACY",
    }
)

ALL_COUNTRIES: frozenset[str] = frozenset(COUNTRY_NAMES)


def normalise(item: str) -> str:
    """The canonical spelling of a code or group name: upper case, aliases resolved."""
    key = item.strip().upper()
    return ALIASES.get(key) or GROUP_ALIASES.get(key) or key


def expand(item: str) -> frozenset[str] | None:
    """The countries a code or group name stands for, or None when it names nothing known."""
    key = normalise(item)
    if key in GROUPS:
        return GROUPS[key]
    if key in COUNTRY_NAMES:
        return frozenset({key})
    return None


def suggest(item: str) -> list[str]:
    """Close matches for a mistyped code or group, and the code of a country written by name."""
    key = item.strip().upper()
    by_name = [code for code, name in COUNTRY_NAMES.items() if name.upper() == key]
    if by_name:
        return by_name
    if len(key) > 3:
        # Longer than any code: most likely a country written (or misspelt) by name.
        names = {name.upper(): code for code, name in COUNTRY_NAMES.items()}
        close = difflib.get_close_matches(key, [*names, *GROUPS], n=3, cutoff=0.75)
        return [names.get(match, match) for match in close]
    return difflib.get_close_matches(key, [*GROUPS, *COUNTRY_NAMES], n=3, cutoff=0.6)
