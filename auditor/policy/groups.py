"""ISO 3166-1 alpha-2 country codes and the named jurisdiction groups a policy may use."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

# All 249 officially assigned ISO 3166-1 alpha-2 codes (as in tzdata's iso3166.tab, 2024),
# with short English names. Written out as data so the auditor needs no lookup package.
ISO_3166_ALPHA2: Mapping[str, str] = MappingProxyType(
    {
        "AD": "Andorra",
        "AE": "United Arab Emirates",
        "AF": "Afghanistan",
        "AG": "Antigua and Barbuda",
        "AI": "Anguilla",
        "AL": "Albania",
        "AM": "Armenia",
        "AO": "Angola",
        "AQ": "Antarctica",
        "AR": "Argentina",
        "AS": "American Samoa",
        "AT": "Austria",
        "AU": "Australia",
        "AW": "Aruba",
        "AX": "Åland Islands",
        "AZ": "Azerbaijan",
        "BA": "Bosnia and Herzegovina",
        "BB": "Barbados",
        "BD": "Bangladesh",
        "BE": "Belgium",
        "BF": "Burkina Faso",
        "BG": "Bulgaria",
        "BH": "Bahrain",
        "BI": "Burundi",
        "BJ": "Benin",
        "BL": "Saint Barthélemy",
        "BM": "Bermuda",
        "BN": "Brunei Darussalam",
        "BO": "Bolivia",
        "BQ": "Bonaire, Sint Eustatius and Saba",
        "BR": "Brazil",
        "BS": "Bahamas",
        "BT": "Bhutan",
        "BV": "Bouvet Island",
        "BW": "Botswana",
        "BY": "Belarus",
        "BZ": "Belize",
        "CA": "Canada",
        "CC": "Cocos (Keeling) Islands",
        "CD": "Congo (Democratic Republic)",
        "CF": "Central African Republic",
        "CG": "Congo",
        "CH": "Switzerland",
        "CI": "Côte d'Ivoire",
        "CK": "Cook Islands",
        "CL": "Chile",
        "CM": "Cameroon",
        "CN": "China",
        "CO": "Colombia",
        "CR": "Costa Rica",
        "CU": "Cuba",
        "CV": "Cabo Verde",
        "CW": "Curaçao",
        "CX": "Christmas Island",
        "CY": "Cyprus",
        "CZ": "Czechia",
        "DE": "Germany",
        "DJ": "Djibouti",
        "DK": "Denmark",
        "DM": "Dominica",
        "DO": "Dominican Republic",
        "DZ": "Algeria",
        "EC": "Ecuador",
        "EE": "Estonia",
        "EG": "Egypt",
        "EH": "Western Sahara",
        "ER": "Eritrea",
        "ES": "Spain",
        "ET": "Ethiopia",
        "FI": "Finland",
        "FJ": "Fiji",
        "FK": "Falkland Islands (Malvinas)",
        "FM": "Micronesia",
        "FO": "Faroe Islands",
        "FR": "France",
        "GA": "Gabon",
        "GB": "United Kingdom",
        "GD": "Grenada",
        "GE": "Georgia",
        "GF": "French Guiana",
        "GG": "Guernsey",
        "GH": "Ghana",
        "GI": "Gibraltar",
        "GL": "Greenland",
        "GM": "Gambia",
        "GN": "Guinea",
        "GP": "Guadeloupe",
        "GQ": "Equatorial Guinea",
        "GR": "Greece",
        "GS": "South Georgia and the South Sandwich Islands",
        "GT": "Guatemala",
        "GU": "Guam",
        "GW": "Guinea-Bissau",
        "GY": "Guyana",
        "HK": "Hong Kong",
        "HM": "Heard Island and McDonald Islands",
        "HN": "Honduras",
        "HR": "Croatia",
        "HT": "Haiti",
        "HU": "Hungary",
        "ID": "Indonesia",
        "IE": "Ireland",
        "IL": "Israel",
        "IM": "Isle of Man",
        "IN": "India",
        "IO": "British Indian Ocean Territory",
        "IQ": "Iraq",
        "IR": "Iran",
        "IS": "Iceland",
        "IT": "Italy",
        "JE": "Jersey",
        "JM": "Jamaica",
        "JO": "Jordan",
        "JP": "Japan",
        "KE": "Kenya",
        "KG": "Kyrgyzstan",
        "KH": "Cambodia",
        "KI": "Kiribati",
        "KM": "Comoros",
        "KN": "Saint Kitts and Nevis",
        "KP": "North Korea",
        "KR": "South Korea",
        "KW": "Kuwait",
        "KY": "Cayman Islands",
        "KZ": "Kazakhstan",
        "LA": "Lao People's Democratic Republic",
        "LB": "Lebanon",
        "LC": "Saint Lucia",
        "LI": "Liechtenstein",
        "LK": "Sri Lanka",
        "LR": "Liberia",
        "LS": "Lesotho",
        "LT": "Lithuania",
        "LU": "Luxembourg",
        "LV": "Latvia",
        "LY": "Libya",
        "MA": "Morocco",
        "MC": "Monaco",
        "MD": "Moldova",
        "ME": "Montenegro",
        "MF": "Saint Martin (French part)",
        "MG": "Madagascar",
        "MH": "Marshall Islands",
        "MK": "North Macedonia",
        "ML": "Mali",
        "MM": "Myanmar",
        "MN": "Mongolia",
        "MO": "Macao",
        "MP": "Northern Mariana Islands",
        "MQ": "Martinique",
        "MR": "Mauritania",
        "MS": "Montserrat",
        "MT": "Malta",
        "MU": "Mauritius",
        "MV": "Maldives",
        "MW": "Malawi",
        "MX": "Mexico",
        "MY": "Malaysia",
        "MZ": "Mozambique",
        "NA": "Namibia",
        "NC": "New Caledonia",
        "NE": "Niger",
        "NF": "Norfolk Island",
        "NG": "Nigeria",
        "NI": "Nicaragua",
        "NL": "Netherlands",
        "NO": "Norway",
        "NP": "Nepal",
        "NR": "Nauru",
        "NU": "Niue",
        "NZ": "New Zealand",
        "OM": "Oman",
        "PA": "Panama",
        "PE": "Peru",
        "PF": "French Polynesia",
        "PG": "Papua New Guinea",
        "PH": "Philippines",
        "PK": "Pakistan",
        "PL": "Poland",
        "PM": "Saint Pierre and Miquelon",
        "PN": "Pitcairn",
        "PR": "Puerto Rico",
        "PS": "Palestine, State of",
        "PT": "Portugal",
        "PW": "Palau",
        "PY": "Paraguay",
        "QA": "Qatar",
        "RE": "Réunion",
        "RO": "Romania",
        "RS": "Serbia",
        "RU": "Russia",
        "RW": "Rwanda",
        "SA": "Saudi Arabia",
        "SB": "Solomon Islands",
        "SC": "Seychelles",
        "SD": "Sudan",
        "SE": "Sweden",
        "SG": "Singapore",
        "SH": "Saint Helena, Ascension and Tristan da Cunha",
        "SI": "Slovenia",
        "SJ": "Svalbard and Jan Mayen",
        "SK": "Slovakia",
        "SL": "Sierra Leone",
        "SM": "San Marino",
        "SN": "Senegal",
        "SO": "Somalia",
        "SR": "Suriname",
        "SS": "South Sudan",
        "ST": "Sao Tome and Principe",
        "SV": "El Salvador",
        "SX": "Sint Maarten (Dutch part)",
        "SY": "Syria",
        "SZ": "Eswatini",
        "TC": "Turks and Caicos Islands",
        "TD": "Chad",
        "TF": "French Southern Territories",
        "TG": "Togo",
        "TH": "Thailand",
        "TJ": "Tajikistan",
        "TK": "Tokelau",
        "TL": "Timor-Leste",
        "TM": "Turkmenistan",
        "TN": "Tunisia",
        "TO": "Tonga",
        "TR": "Türkiye",
        "TT": "Trinidad and Tobago",
        "TV": "Tuvalu",
        "TW": "Taiwan",
        "TZ": "Tanzania",
        "UA": "Ukraine",
        "UG": "Uganda",
        "UM": "United States Minor Outlying Islands",
        "US": "United States",
        "UY": "Uruguay",
        "UZ": "Uzbekistan",
        "VA": "Holy See",
        "VC": "Saint Vincent and the Grenadines",
        "VE": "Venezuela",
        "VG": "Virgin Islands (British)",
        "VI": "Virgin Islands (U.S.)",
        "VN": "Vietnam",
        "VU": "Vanuatu",
        "WF": "Wallis and Futuna",
        "WS": "Samoa",
        "YE": "Yemen",
        "YT": "Mayotte",
        "ZA": "South Africa",
        "ZM": "Zambia",
        "ZW": "Zimbabwe",
    }
)

# Codes outside ISO 3166-1 that geolocation databases really return, so a policy may name them.
# MaxMind and GeoNames place Kosovo under the user-assigned code XK.
EXTRA_CODES: Mapping[str, str] = MappingProxyType({"XK": "Kosovo"})

# Everything a policy may name as a single country.
COUNTRY_NAMES: Mapping[str, str] = MappingProxyType({**ISO_3166_ALPHA2, **EXTRA_CODES})

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


def is_country(code: str | None) -> bool:
    """True when a database's country code is one a policy can judge (not "EU", "AP", "ZZ")."""
    return code is not None and code.upper() in COUNTRY_NAMES


def country_name(code: str) -> str | None:
    return COUNTRY_NAMES.get(code.upper())


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
