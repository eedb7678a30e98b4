"""Geolocation: database discovery, and lookups over mmdb files.

The names below are loaded from their modules on first use: `auditor.geo.dbinfo` (a default
the command line shows) must not pull in maxminddb and the locator before a run needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.geo.dbinfo import (
        DEFAULT_MAX_AGE_DAYS,
        database_age_days,
        is_stale,
        staleness_warnings,
    )
    from auditor.geo.discovery import DEFAULT_DIRS, discover_databases
    from auditor.geo.locator import DEFAULT_COARSE_RADIUS_KM, Locator, open_locator

_MODULES = {
    "DEFAULT_MAX_AGE_DAYS": "dbinfo",
    "database_age_days": "dbinfo",
    "is_stale": "dbinfo",
    "staleness_warnings": "dbinfo",
    "DEFAULT_DIRS": "discovery",
    "discover_databases": "discovery",
    "DEFAULT_COARSE_RADIUS_KM": "locator",
    "Locator": "locator",
    "open_locator": "locator",
}


def __getattr__(name: str) -> object:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


__all__ = [
    "DEFAULT_COARSE_RADIUS_KM",
    "DEFAULT_DIRS",
    "DEFAULT_MAX_AGE_DAYS",
    "Locator",
    "database_age_days",
    "discover_databases",
    "is_stale",
    "open_locator",
    "staleness_warnings",
]
