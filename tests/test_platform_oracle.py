"""Platform attribution checked against nDPI's classification of the real meeting captures.

nDPI's expected outputs (written by nDPI's authors, not by us) name an application per flow
(`[proto: 91.189/TLS.Zoom]`: the part after the dot, or the whole when there is none). For each
server endpoint the auditor finds, the applications nDPI named on flows to that address are the
oracle. Every platform the auditor claims where nDPI names one must be compatible with it: the
same platform, or the operator of it (the auditor says "Microsoft" for AS8075, nDPI "Teams").
The agreement per platform is printed for the lane's note (pytest -s).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest

from auditor.attribution import GOOGLE_STUN, Attribution, attribute_endpoint
from auditor.capture import read_capture
from auditor.endpoints import server_endpoints
from auditor.geo.bundled import bundled_asn
from auditor.geo.locator import open_locator

FLOW = re.compile(r"^\s*\d+\s+(?:TCP|UDP)\s+(\S+):\d+\s+<->\s+(\S+):\d+\s+\[proto: ([^\]]+)\]")

# nDPI application name -> (platform as the auditor names it, operator).
NDPI_APPS: Mapping[str, tuple[str, str]] = {
    "Zoom": ("Zoom", "Zoom"),
    "Teams": ("Teams", "Microsoft"), "Skype_Teams": ("Teams", "Microsoft"),
    "Skype_TeamsCall": ("Teams", "Microsoft"), "Microsoft": ("Microsoft", "Microsoft"),
    "Microsoft365": ("Microsoft 365", "Microsoft"), "Azure": ("Microsoft", "Microsoft"),
    "Outlook": ("Microsoft 365", "Microsoft"),
    "Webex": ("Webex", "Webex"), "Apple": ("Apple", "Apple"),
    "GoogleCall": ("Meet", "Google"), "GoogleMeet": ("Meet", "Google"),
    "Google": ("Google", "Google"), "GoogleDocs": ("Google", "Google"),
    "GoogleServices": ("Google", "Google"), "GoogleCloud": ("Google", "Google"),
    "Discord": ("Discord", "Discord"),
    "WhatsAppCall": ("WhatsApp", "Meta"), "WhatsApp": ("WhatsApp", "Meta"),
    "Facebook": ("Meta", "Meta"),
    "TelegramVoip": ("Telegram", "Telegram"), "Telegram": ("Telegram", "Telegram"),
    "WeChat": ("WeChat", "Tencent"), "Tencent": ("Tencent", "Tencent"),
    "QQ": ("Tencent", "Tencent"),
    "Cloudflare": ("Cloudflare", "Cloudflare"),
}
# The auditor's names -> operator (a platform it names is compatible with its operator's apps).
OPERATOR: Mapping[str, str] = {
    "Zoom": "Zoom", "Teams": "Microsoft", "Microsoft": "Microsoft",
    "Microsoft 365": "Microsoft", "Webex": "Webex", "Meet": "Google", "Google": "Google",
    GOOGLE_STUN: "Google", "Discord": "Discord", "WhatsApp": "Meta", "Meta": "Meta",
    "Telegram": "Telegram", "WeChat": "Tencent", "Tencent": "Tencent",
    "Cloudflare": "Cloudflare", "Jitsi": "8x8",
}
# An operator-level claim is right when nDPI names any app of that operator; a platform-level
# claim is right when nDPI names that platform or only the operator (nDPI's "Microsoft" for a
# Teams host it did not look inside).
# "Microsoft 365" is the suite whose published list holds the address: Teams is part of it.
OPERATOR_LEVEL = frozenset(
    {"Microsoft", "Microsoft 365", "Google", "Meta", "Tencent", "Cloudflare"}
)


def ndpi_apps(out: Path) -> dict[str, set[str]]:
    """Server address -> the applications nDPI named on flows to it."""
    found: dict[str, set[str]] = {}
    for line in out.read_text().splitlines():
        match = FLOW.match(line)
        if match is None:
            continue
        proto = match[3].split("/", 1)[-1]
        if proto.split(".")[0] in ("DNS", "MDNS", "LLMNR"):
            continue  # the app of a name looked up, not of the resolver answering it
        app = proto.split(".")[-1]
        for side in (match[1], match[2]):
            found.setdefault(side.strip("[]"), set()).add(app)
    return found


def compatible(claim: str, apps: set[str]) -> bool:
    known = [NDPI_APPS[app] for app in apps if app in NDPI_APPS]
    operator = OPERATOR.get(claim)
    for platform, app_operator in known:
        if platform == claim:
            return True
        if operator == app_operator and (claim in OPERATOR_LEVEL or platform in OPERATOR_LEVEL):
            return True
    return False


def audit_capture(path: Path) -> dict[str, Attribution | None]:
    result = read_capture(path)
    endpoints = server_endpoints(result.flows, result.names)
    asn_db = bundled_asn()
    assert asn_db is not None
    with open_locator([asn_db]) as locator:
        return {
            e.ip: attribute_endpoint(e.hostnames, e.ip, locator.locate(e.ip).asn, e.ports)
            for e in endpoints
        }


def test_every_claimed_platform_agrees_with_ndpi(shared_data: Path) -> None:
    folder = shared_data / "pcaps" / "meetings"
    outs = sorted((folder / "ndpi-expected").glob("*.out"))
    assert outs, "no nDPI expected outputs"
    wrong: list[str] = []
    tally: Counter[tuple[str, str]] = Counter()
    for out in outs:
        apps = ndpi_apps(out)
        claims = audit_capture(folder / out.name.removesuffix(".out"))
        for ip, claim in claims.items():
            named = {a for a in apps.get(ip, set()) if a in NDPI_APPS}
            if not named:
                continue  # nDPI names no platform: nothing to compare
            expected = sorted({NDPI_APPS[a][0] for a in named})
            key = "/".join(expected)
            if claim is None or not claim.names_platform:
                tally[(key, "missed")] += 1
            elif compatible(claim.platform, named):
                tally[(key, "agree")] += 1
            else:
                tally[(key, "wrong")] += 1
                wrong.append(f"{out.name}: {ip} claimed {claim} but nDPI says {sorted(named)}")
    for (platform, outcome), count in sorted(tally.items()):
        print(f"platform-oracle {platform:<24} {outcome:<7} {count}")
    assert sum(tally.values()) > 20  # the captures hold dozens of named servers
    assert wrong == []


@pytest.mark.parametrize(
    ("apps", "claim", "expected"),
    [
        ({"Teams"}, "Microsoft", True),  # operator by ASN, nDPI names the product
        ({"Microsoft"}, "Teams", True),  # nDPI only knows the operator
        ({"Zoom"}, "Webex", False),
        ({"Teams"}, "Webex", False),
        ({"GoogleCall"}, "Zoom", False),
        ({"WhatsAppCall"}, "Telegram", False),
        ({"WeChat"}, "Tencent", True),
        ({"Teams"}, "Microsoft 365", True),  # the suite whose list holds the address
        ({"Zoom"}, "Microsoft 365", False),
    ],
)
def test_compatibility_rule(apps: set[str], claim: str, expected: bool) -> None:
    assert compatible(claim, apps) is expected
