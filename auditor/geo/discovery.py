"""Which databases to use: --db paths, AUDITOR_DB, the system GeoIP folders, or the bundled ones."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from auditor.geo.bundled import bundled_asn, bundled_city, bundled_country

ENV_VARIABLE = "AUDITOR_DB"

# Where geoipupdate and the distributions' packages put MaxMind databases.
DEFAULT_DIRS: tuple[str, ...] = (
    "/usr/share/GeoIP",
    "/var/lib/GeoIP",
    "/usr/local/share/GeoIP",
    "/opt/homebrew/var/GeoIP",
)

# Best first: one country-bearing database and one network-owner database are enough, and a
# second of the same kind would only repeat the first one's answers.
COUNTRY_EDITIONS: tuple[str, ...] = (
    "GeoIP2-Enterprise.mmdb",
    "GeoIP2-City.mmdb",
    "GeoIP2-Country.mmdb",
    "GeoLite2-City.mmdb",
    "GeoLite2-Country.mmdb",
)
NETWORK_EDITIONS: tuple[str, ...] = ("GeoIP2-ISP.mmdb", "GeoLite2-ASN.mmdb")
# A second, independently built source with coordinates, read beside the country database so
# that every endpoint gets two opinions: DB-IP Lite City as `audit db update` installs it.
INDEPENDENT_EDITIONS: tuple[str, ...] = ("dbip-city-lite.mmdb",)


def discover_databases(
    explicit: Sequence[str],
    env: Mapping[str, str],
    search_dirs: Sequence[str] = DEFAULT_DIRS,
) -> list[str]:
    """The database paths to open, in the order their answers are preferred.

    Explicit paths win; else AUDITOR_DB (an os.pathsep-separated list); else three roles,
    each filled from ``search_dirs`` or by the bundled database of that role: the country
    database (MaxMind's best edition, else the bundled whois one), an independent second
    opinion with coordinates (DB-IP Lite City), and the network owner (ASN). Empty when there is
    nothing at all (the caller says so). Paths are not checked here: opening them reports what
    is wrong with each.
    """
    if explicit:
        return [os.path.expanduser(path) for path in explicit]
    from_env = [p for p in env.get(ENV_VARIABLE, "").split(os.pathsep) if p.strip()]
    if from_env:
        return [os.path.expanduser(path.strip()) for path in from_env]
    roles = (
        find_edition(COUNTRY_EDITIONS, search_dirs) or bundled_country(),
        find_edition(INDEPENDENT_EDITIONS, search_dirs) or bundled_city(),
        find_edition(NETWORK_EDITIONS, search_dirs) or bundled_asn(),
    )
    return [path for path in roles if path is not None]


def find_edition(editions: Sequence[str], search_dirs: Sequence[str]) -> str | None:
    """The best edition present in any of the folders, folder order breaking ties."""
    for edition in editions:
        for directory in search_dirs:
            path = os.path.join(directory, edition)
            if os.path.isfile(path):
                return path
    return None
