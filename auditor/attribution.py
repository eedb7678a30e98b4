"""Which platform (or operator) a server belongs to, and on what basis.

In order of strength: a name the server was reached as (DNS answer, TLS SNI), the vendor's own
published address ranges, the network's autonomous system, and last a port hint, which is only
a guess and says so. A shared public service (Google's public STUN servers, which Signal and
many WebRTC apps use) is named as what it is, never as one app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auditor.model import AttributionBasis as AttributionBasis  # noqa: PLC0414 - re-export
from auditor.platform_ranges import RangeIndex, RangeKind, bundled_ranges


@dataclass(frozen=True, slots=True)
class Attribution:
    platform: str
    basis: AttributionBasis
    evidence: str  # the name, range, "AS<n>" or port that decided it

    @property
    def label(self) -> str:
        """What a report shows: a port hint is marked as one."""
        if self.basis is AttributionBasis.PORT_HINT:
            return f"{self.platform}? (port hint)"
        if self.basis is AttributionBasis.CLOUD_TENANT:
            return f"{self.platform} tenant"
        return self.platform

    @property
    def names_platform(self) -> bool:
        """False for what only says where a server is hosted or guesses from a port."""
        return self.basis not in (AttributionBasis.CLOUD_TENANT, AttributionBasis.PORT_HINT)


GOOGLE_STUN = "Google public STUN"
CLOUDFLARE_STUN = "Cloudflare public STUN"

# Exact names of public services many apps share: checked before any suffix.
SHARED_SERVICES: Mapping[str, str] = {
    "stun.l.google.com": GOOGLE_STUN,
    **{f"stun{n}.l.google.com": GOOGLE_STUN for n in range(1, 5)},
    "stun.cloudflare.com": CLOUDFLARE_STUN,
}

# Suffixes of the names each platform's clients reach, from the vendors' published network
# requirements (Zoom, Microsoft 365 URLs and IP ranges, Webex, Google Meet, Jitsi/8x8). Google's
# public STUN (stun.l.google.com) is no Meet server: SHARED_SERVICES names it.
PLATFORM_SUFFIXES: Mapping[str, str] = {
    "zoom.us": "Zoom", "zoom.com": "Zoom", "zoomgov.com": "Zoom", "zoom.com.cn": "Zoom",
    "teams.microsoft.com": "Teams", "teams.live.com": "Teams", "skype.com": "Teams",
    "lync.com": "Teams", "teams.cloud.microsoft": "Teams", "trouter.skype.com": "Teams",
    "webex.com": "Webex", "wbx2.com": "Webex", "ciscospark.com": "Webex",
    "webexcontent.com": "Webex",
    "meet.google.com": "Meet", "meet.googleapis.com": "Meet",
    "jitsi.net": "Jitsi", "meet.jit.si": "Jitsi", "8x8.vc": "Jitsi",
    "discord.gg": "Discord", "discord.media": "Discord", "discord.com": "Discord",
    "whatsapp.net": "WhatsApp", "whatsapp.com": "WhatsApp",
    "telegram.org": "Telegram",
    "wechat.com": "WeChat", "weixin.qq.com": "WeChat", "wx.qq.com": "WeChat",
}

# Autonomous systems, for servers reached without a name in the capture (media relays are
# usually addressed by IP from signalling). Only networks a single operator runs for itself are
# listed, and they name that operator: AS8075 is Microsoft as a whole, not proof of Teams.
PLATFORM_ASNS: Mapping[int, str] = {
    30103: "Zoom",
    13445: "Webex",
    62041: "Telegram", 59930: "Telegram", 62014: "Telegram", 211157: "Telegram",
    8075: "Microsoft", 15169: "Google", 32934: "Meta",
    132203: "Tencent", 45090: "Tencent",
}

# Suffixes from the vendors' published network requirements and client documentation, for the
# services beyond the meeting platforms above.
MORE_SUFFIXES: Mapping[str, str] = {
    "signal.org": "Signal", "whispersystems.org": "Signal", "signal.art": "Signal",
    "viber.com": "Viber",
    "line.me": "LINE", "line-apps.com": "LINE", "line-scdn.net": "LINE",
    "kakao.com": "KakaoTalk", "kakaotalk.com": "KakaoTalk",
    "agora.io": "Agora", "agoraio.cn": "Agora", "sd-rtn.com": "Agora",
    "meeting.tencent.com": "Tencent Meeting", "voovmeeting.com": "Tencent Meeting",
    "meeting.qq.com": "Tencent Meeting",
    "dingtalk.com": "DingTalk",
    "feishu.cn": "Lark", "larksuite.com": "Lark", "larkoffice.com": "Lark",
    "feishu.net": "Lark",
    "chime.aws": "Amazon Chime", "amazonchime.com": "Amazon Chime",
    "goto.com": "GoTo", "gotomeeting.com": "GoTo", "gotomeet.me": "GoTo",
    "gotowebinar.com": "GoTo", "goto-rtc.com": "GoTo",
    "ringcentral.com": "RingCentral",
    "bluejeans.com": "BlueJeans", "bjn.vc": "BlueJeans",
    "slack.com": "Slack", "slack-edge.com": "Slack",
    "skypeassets.com": "Teams",
}

# Every name suffix the auditor knows: the supported meeting platforms and the services above.
ALL_SUFFIXES: Mapping[str, str] = {**PLATFORM_SUFFIXES, **MORE_SUFFIXES}

# A port is only ever a hint: anything can listen anywhere. These are the media ports the
# vendors document for their own servers.
PORT_HINTS: Mapping[str, str] = {
    **{f"{port}/udp": "Zoom" for port in range(8801, 8811)},
    "9000/udp": "Webex",
    # Teams' 3479-3481; 3478 is every STUN/TURN server's port (WhatsApp peers use it too).
    **{f"{port}/udp": "Teams" for port in range(3479, 3482)},
    **{f"{port}/udp": GOOGLE_STUN for port in range(19302, 19310)},
}


def _by_suffix(name: str, table: Mapping[str, str]) -> str | None:
    labels = name.lower().rstrip(".").split(".")
    for start in range(len(labels)):
        found = table.get(".".join(labels[start:]))
        if found:
            return found
    return None


def by_name(
    name: str, vendor_suffixes: Mapping[str, str] = MORE_SUFFIXES
) -> Attribution | None:
    lowered = name.lower().rstrip(".")
    shared = SHARED_SERVICES.get(lowered)
    platform = shared or _by_suffix(lowered, vendor_suffixes)
    return Attribution(platform, AttributionBasis.NAME, lowered) if platform else None


def attribute(
    names: Iterable[str],
    address: str,
    asn: int | None,
    ports: Iterable[str] = (),
    *,
    suffixes: Mapping[str, str] = MORE_SUFFIXES,
    asns: Mapping[int, str] | None = None,
    ranges: RangeIndex | None = None,
) -> Attribution | None:
    """The strongest attribution of one server: name, then range, then network, then port.

    A public cloud's customer range stops the network's ASN from naming an app: AS15169 is
    Google's, but Discord's media servers in Google Cloud are not Google's service.
    """
    for name in names:
        found = by_name(name, suffixes)
        if found:
            return found
    published = (ranges or bundled_ranges()).lookup(address)
    if published is not None:
        basis = (
            AttributionBasis.RANGE
            if published.kind is RangeKind.VENDOR
            else AttributionBasis.CLOUD_TENANT
        )
        return Attribution(published.platform, basis, str(published.network))
    if asn is not None and asns and asn in asns:
        return Attribution(asns[asn], AttributionBasis.ASN, f"AS{asn}")
    for port in ports:
        if port in PORT_HINTS:
            return Attribution(PORT_HINTS[port], AttributionBasis.PORT_HINT, port)
    return None


def attribute_endpoint(
    names: Iterable[str], address: str, asn: int | None, ports: Iterable[str] = ()
) -> Attribution | None:
    """attribute() with every table the auditor ships: what the audit asks per endpoint."""
    return attribute(names, address, asn, ports, suffixes=ALL_SUFFIXES, asns=PLATFORM_ASNS)
