"""Geolocation: database discovery, and lookups over mmdb files."""

from __future__ import annotations

from auditor.geo.dbinfo import (
    DEFAULT_MAX_AGE_DAYS,
    database_age_days,
    is_stale,
    staleness_warnings,
)
from auditor.geo.discovery import DEFAULT_DIRS, discover_databases
from auditor.geo.locator import DEFAULT_COARSE_RADIUS_KM, Locator, open_locator

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
