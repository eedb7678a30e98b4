"""Geolocation: address classes, database discovery, and lookups over mmdb files."""

from __future__ import annotations

from auditor.geo.addresses import classify_address
from auditor.geo.locator import DEFAULT_COARSE_RADIUS_KM, Locator, open_locator

__all__ = ["DEFAULT_COARSE_RADIUS_KM", "Locator", "classify_address", "open_locator"]
