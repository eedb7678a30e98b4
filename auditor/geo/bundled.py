"""The databases shipped inside the package, and the credit their data's licences require."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

COUNTRY_FILE = "auditor-country.mmdb"
CITY_FILE = "auditor-city.mmdb"
ASN_FILE = "auditor-asn.mmdb"

# database_type values the build script writes; geoip2 reads the first with .country() (its
# type contains "Country") and the second with .asn() (its type contains "GeoLite2-ASN", as
# DB-IP's compatible files do).
COUNTRY_TYPE = "auditor-Country"
CITY_TYPE = "auditor-City (DB-IP Lite)"  # geoip2 reads it with .city(): the type has "City"
ASN_TYPE = "auditor-ASN (compat=GeoLite2-ASN)"

COUNTRY_ATTRIBUTION = (
    "ip-location-db geo-whois-asn-country (https://github.com/sapics/ip-location-db): "
    "RIR whois and ASN data by the NRO (https://www.nro.net), CC BY 4.0, and public geofeeds"
)
CITY_ATTRIBUTION = (
    "IP Geolocation by DB-IP (https://db-ip.com): IP to City Lite, CC BY 4.0, "
    "via ip-location-db (https://github.com/sapics/ip-location-db)"
)
ASN_ATTRIBUTION = (
    "ip-location-db asn (https://github.com/sapics/ip-location-db): data by RouteViews "
    "(https://www.routeviews.org), DB-IP (https://db-ip.com) and the NRO (https://www.nro.net), "
    "CC BY 4.0"
)

BUNDLED_ATTRIBUTION = {
    COUNTRY_TYPE: COUNTRY_ATTRIBUTION,
    CITY_TYPE: CITY_ATTRIBUTION,
    ASN_TYPE: ASN_ATTRIBUTION,
}


def bundled_directory() -> Path:
    """auditor/data as a real directory (the package is installed unzipped: mmdb needs a path)."""
    return Path(str(resources.files("auditor") / "data"))


def bundled_databases() -> list[str]:
    """The shipped databases that are present: the whois country, DB-IP's city, the ASN."""
    shipped = (bundled_country(), bundled_city(), bundled_asn())
    return [path for path in shipped if path is not None]


def bundled_country() -> str | None:
    return _present(COUNTRY_FILE)


def bundled_city() -> str | None:
    return _present(CITY_FILE)


def bundled_asn() -> str | None:
    return _present(ASN_FILE)


def _present(name: str) -> str | None:
    path = bundled_directory() / name
    return str(path) if path.is_file() else None
