"""Build auditor/data/platform_ranges.csv (+ .idx) from the vendors' published address lists.

The vendors publish their ranges at the URLs below; this machine (and CI) has no internet, so
the build reads pinned copies committed under scripts/platform_sources/, each checked against
the SHA-256 recorded here. Every pinned copy comes from one public repository that crawls the
vendor URLs daily, disposable/cloud-ip-ranges (https://github.com/disposable/cloud-ip-ranges),
at the commit named per file; that repository carries no licence file, and the lists are the
vendors' own published facts (addresses), which the vendors publish for firewall configuration.

To refresh: download the vendor URL (or the newer crawler copy), replace the file under
scripts/platform_sources/, update its commit, date and SHA-256 below, run this script, and
commit the data files with the sources. `--check` rebuilds in memory and fails if a committed
data file differs (CI can run it).

Beside the CSV it writes platform_ranges.idx: the CSV's ranges cut into disjoint segments
(auditor.platform_ranges.RangeIndex, its to_bytes), so a run reads integers instead of parsing
~10k networks; the index carries the CSV's SHA-256 and is ignored if it does not match.

Usage: python scripts/build_platform_ranges.py [--check]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.platform_ranges import RangeIndex, parse_ranges  # noqa: E402 - ROOT is on the path

SOURCES = ROOT / "scripts" / "platform_sources"
OUTPUT = ROOT / "auditor" / "data" / "platform_ranges.csv"
INDEX = OUTPUT.with_suffix(".idx")
MIRROR = "https://raw.githubusercontent.com/disposable/cloud-ip-ranges"


@dataclass(frozen=True)
class Source:
    file: str
    platform: str
    vendor_url: str
    commit: str  # of disposable/cloud-ip-ranges
    path: str  # in that repository
    data_date: str  # the commit's date: when the crawler last saw the vendor list change
    sha256: str  # of the file under scripts/platform_sources/
    note: str = ""
    # "vendor": the platform's own list names it; "cloud": a public cloud's customer ranges,
    # where the tenant (the app) is not known and the network's ASN must not name one.
    kind: str = "vendor"


PINNED = (
    Source(
        "zoom-excerpt.csv", "Zoom",
        "https://assets.zoom.us/docs/ipranges/Zoom.txt",
        "df2a250fb6c1ff06443c7dab38941b15c33ab437", "csv/zoom.csv", "2026-08 or later",
        "8f008e8e7d0193104e58af7f5ef8df03b30d1d794c1c0b5373289da875f06e9b",
        "excerpt: the crawler's file also lists about 900 single addresses inside AWS "
        "CloudFront's published ranges and 52.84.151.0/24 (CloudFront). CloudFront edge "
        "addresses serve every CloudFront customer, so naming them Zoom would be wrong; those "
        "rows were left out when copying. Every other row (Zoom's own networks, its dedicated "
        "AWS and Oracle Cloud blocks and hosts) is copied as published.",
    ),
    Source(
        "microsoft-365.csv", "Microsoft 365",
        "https://endpoints.office.com/endpoints/worldwide?clientrequestid=<uuid>",
        "e144f084c6d23a3146ca685f4b0076539c1ecc1a", "csv/microsoft-365.csv", "2026-08 or later",
        "5930a6c53d1fc5146254258232459d0c08c495eaf861710f7c828cb3fee00ee8",
        "the list mixes Exchange, SharePoint and Teams (no service ids in the copy): it names "
        "Microsoft 365, not Teams",
    ),
    Source(
        "cisco-webex.csv", "Webex",
        "https://help.webex.com/en-us/article/WBX000028782/Network-Requirements-for-Webex-Services",
        "8bccc020cf5afee1212d4b0b50481f14aebfa3a6", "csv/cisco-webex.csv", "2026-08 or later",
        "ffb374c317dcb713516b769061c9e263c62de78185242b7d2f4658759e2c3b7f",
        "rows with a RetiredAt date (no longer published) are left out",
    ),
    Source(
        "cloudflare.csv", "Cloudflare",
        "https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6",
        "9ba5a21093118acf503b1b956b3d620ef2a882d6", "csv/cloudflare.csv", "2025-05-03",
        "d51efd7db9f4f31b95641767a27808142c4c334df6149298057a2bff45c46798",
        "a shared network (CDN, Calls, TURN): it names the operator, not an app",
    ),
    Source(
        "google-cloud.csv", "Google Cloud",
        "https://www.gstatic.com/ipranges/cloud.json",
        "ba3334c728bedd3861989760b164e0c7b98ac635", "csv/google-cloud.csv", "2025-06-15",
        "4744a97637dd2c07edfcba5f6c4f0b49ec7071fd478d1c40a34647bdf8b209f2",
        "customers' addresses inside AS15169: Discord media runs here", kind="cloud",
    ),
    Source(
        "aws.csv", "AWS",
        "https://ip-ranges.amazonaws.com/ip-ranges.json",
        "15f93a363db4332d3c28d4cb11e2bd6bcc2409c0", "csv/aws.csv", "2025-07-04",
        "3becae85fa311e6fbdaadd4c6b0768691cab575cf89e18c156876e7353c794c7",
        "every AWS service's ranges (EC2, CloudFront, ...): tenants unknown", kind="cloud",
    ),
)


def _checked_bytes(source: Source) -> bytes:
    data = (SOURCES / source.file).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise SystemExit(f"{source.file}: sha256 {digest}, pinned {source.sha256}")
    return data


def _networks(source: Source) -> list[str]:
    rows = csv.DictReader(_checked_bytes(source).decode("ascii").splitlines())
    kept = []
    for row in rows:
        if row.get("RetiredAt"):
            continue
        kept.append(str(ipaddress.ip_network(row["Address"].strip(), strict=True)))
    return kept


def build() -> str:
    lines = [
        "# Platform address ranges from the vendors' published lists; built by",
        "# scripts/build_platform_ranges.py (sources, commits and checksums there and below).",
    ]
    for source in PINNED:
        lines.append(
            f"# {source.platform}: {source.vendor_url} via {MIRROR}/{source.commit}/{source.path}"
            f" (data {source.data_date}, sha256 {source.sha256})"
        )
    lines.append("network,platform,kind")
    for source in PINNED:
        unique = dict.fromkeys(_networks(source))
        lines.extend(f"{network},{source.platform},{source.kind}" for network in unique)
    return "\n".join(lines) + "\n"


def index(text: str) -> bytes:
    """The .idx file for the CSV ``text``."""
    return RangeIndex.of(parse_ranges(text)).to_bytes(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a data file is stale")
    text = build()
    if parser.parse_args().check:
        if OUTPUT.read_text() != text or INDEX.read_bytes() != index(text):
            print(f"{OUTPUT} or {INDEX.name} is not what the pinned sources build: rerun me",
                  file=sys.stderr)  # fmt: skip
            return 1
        return 0
    OUTPUT.write_text(text)
    INDEX.write_bytes(index(text))
    print(f"wrote {OUTPUT} ({text.count(chr(10))} lines) and {INDEX.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
