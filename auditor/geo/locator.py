"""Looking addresses up in one or more mmdb databases, with a per-network cache."""

from __future__ import annotations

import marshal
import mmap
import os
import socket
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from types import TracebackType
from typing import Any, BinaryIO, Self

import maxminddb

from auditor.addresses import address_value, class_of
from auditor.countries import is_country_code
from auditor.errors import DatabaseError
from auditor.geo.layouts import (
    UNKNOWN,
    Answer,
    Layout,
    answer_from_geoip2_record,
    answer_from_record,
)
from auditor.geo.merge import Place, merged_place
from auditor.geo.metadata import check_metadata, database_info, layout_of, one_line
from auditor.model import (
    CountryAnswer,
    DatabaseInfo,
    Location,
    build_country_answer,
    build_location,
)

DEFAULT_COARSE_RADIUS_KM = 500

# A handful of lookups at open so that a corrupt tree or data section is reported before the
# audit starts, not half-way through it. Covers both ends and the middle of each tree.
_PROBES_V4 = (
    "0.0.0.0",  # noqa: S104 - an address to look up, not to bind
    "1.1.1.1",
    "8.8.8.8",
    "81.2.69.160",
    "128.0.0.1",
    "255.255.255.255",
)
_PROBES_V6 = ("::", "2001:4860::1", "2a02:d180::1", "8000::1", "ffff::1")

# Caches are bounded so that a capture with millions of distinct addresses cannot grow them
# without limit; past the bound they start again, which costs lookups, never correctness.
# 50,000 networks hold any meeting's servers many times over; with a million servers spread
# over the address space each 200,000 held ~100 MB more for no measurable gain in time.
_CACHE_LIMIT = 50_000


class NetworkCache:
    """Answers keyed by the database network that holds them.

    Networks within one mmdb never overlap, so an address belongs to at most one cached network.
    Each is filed under the blocks (an IPv4 /16, an IPv6 /32) it lies in, sorted by its first
    address: finding an address's network is one dict probe and one bisection, hit or miss (a
    loop over every prefix length seen cost more than the lookup it saved, with many networks).
    Networks wider than 256 blocks are kept per prefix length, as they are few.
    """

    def __init__(self) -> None:
        # version -> block -> (first addresses, sorted; (first, last, answer) in that order)
        self._blocks: dict[int, dict[int, tuple[list[int], list[_Cached]]]] = {4: {}, 6: {}}
        # version -> prefix length -> network bits -> (first, last, answer): the wide networks
        self._wide: dict[int, dict[int, dict[int, _Cached]]] = {4: {}, 6: {}}
        self._size = 0
        # The network last found or put, checked first: addresses in a row (a sweep, a sorted
        # list) mostly fall in the one before's network.
        self._last: tuple[int, int, int, Answer] | None = None

    def get(self, version: int, value: int) -> Answer | None:
        last = self._last
        if last is not None and last[1] <= value <= last[2] and last[0] == version:
            return last[3]
        found = self.network(version, value)
        if found is None:
            return None
        self._last = (version, *found)
        return found[2]

    def network(self, version: int, value: int) -> _Cached | None:
        """(first address, last address, answer) of the cached network holding ``value``."""
        block = self._blocks[version].get(value >> _BLOCK_SHIFT[version])
        if block is not None:
            firsts, networks = block
            index = bisect_right(firsts, value) - 1
            if index >= 0 and value <= networks[index][1]:
                return networks[index]
        bits = _BITS[version]
        for length, wide in self._wide[version].items():
            cached = wide.get(value >> (bits - length))
            if cached is not None:
                return cached
        return None

    def put(self, version: int, value: int, prefix_len: int, answer: Answer) -> None:
        bounds = network_bounds(version, value, prefix_len)
        if bounds is None:
            return  # a corrupt tree can report nonsense; such answers are just not cached
        if self._size >= _CACHE_LIMIT:
            self._blocks, self._wide = {4: {}, 6: {}}, {4: {}, 6: {}}
            self._size = 0
        first, last = bounds
        cached = (first, last, answer)
        self._last = (version, *cached)
        shift = _BLOCK_SHIFT[version]
        if (cached[1] >> shift) - (first >> shift) >= _MAX_BLOCKS:
            wide = self._wide[version].setdefault(prefix_len, {})
            wide[first >> (_BITS[version] - prefix_len)] = cached
            self._size += 1
            return
        for key in range(first >> shift, (cached[1] >> shift) + 1):
            firsts, networks = self._blocks[version].setdefault(key, ([], []))
            index = bisect_left(firsts, first)
            if index < len(firsts) and firsts[index] == first:
                continue  # cached already
            firsts.insert(index, first)
            networks.insert(index, cached)
        self._size += 1


def network_bounds(version: int, value: int, prefix_len: int) -> tuple[int, int] | None:
    """(first, last address) of the ``prefix_len`` network holding ``value``; None for a
    length no network of that version has (a corrupt tree's)."""
    bits = _BITS[version]
    if not 0 <= prefix_len <= bits:
        return None
    host_bits = bits - prefix_len
    first = value >> host_bits << host_bits
    return first, first | ((1 << host_bits) - 1)


_Cached = tuple[int, int, Answer]
_BITS = {4: 32, 6: 128}
_BLOCK_SHIFT = {4: 32 - 16, 6: 128 - 32}  # an IPv4 /16, an IPv6 /32
_MAX_BLOCKS = 256


class _Database:
    """One open database: its reader, layout, description and cache.

    Every layout is read with the maxminddb reader and its records flattened here: geoip2's
    models cost several times the lookup itself (the geoip2 answers are the tests' oracle)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.info, self.layout = _inspect(path)
        self.cache = NetworkCache()
        self._records: dict[bytes, Answer] = {}  # a record's marshal bytes -> its answer
        # id(answer) -> (the answer, held so that its id is not reused; its CountryAnswer; and
        # whether a code in it is no country code): country_answer()'s, read by merge.py too
        self.country_answers: dict[int, tuple[Answer, CountryAnswer, bool]] = {}
        self._flatten = answer_from_geoip2_record if self.layout.uses_geoip2 else answer_from_record
        self._raw: maxminddb.Reader | None = None
        before = _identity(path)
        try:
            self._raw = maxminddb.open_database(path, maxminddb.MODE_AUTO)
        except Exception as exc:
            raise DatabaseError(path, f"cannot open: {one_line(exc)}") from exc
        self._file = _same_file(path, before)

    def answer(self, version: int, value: int, text: str) -> Answer:
        """What this database says about the address (``text``, or ``value`` of IP
        ``version``); UNKNOWN when it has no record."""
        if version == 6 and self.info.ip_version == 4:
            return UNKNOWN  # an IPv4-only database knows nothing of IPv6, and that is no error
        cached = self.cache.get(version, value)
        if cached is not None:
            return cached
        answer, prefix_len = self.lookup(text)
        self.cache.put(version, value, prefix_len, answer)
        return answer

    @property
    def tree_size(self) -> int:
        """The bytes of the search tree section (the metadata's word for it)."""
        assert self._raw is not None  # noqa: S101 - open until close()
        metadata = self._raw.metadata()
        return int(metadata.node_count * metadata.record_size // 4)

    def search_tree(self) -> tuple[mmap.mmap, int, int] | None:
        """(the search tree section, its node count, its record size bits), mapped from the
        file the reader has open (the caller closes the map); None when that file cannot be
        told to be the reader's (see _same_file) or is shorter (the reader says what is wrong
        when asked). Mapped, not read: a walk touches the pages it needs, where reading the
        bundled City tree whole (50 MB) cost ~0.04 s of public-100k's locate. The reader maps
        the file too (libmaxminddb), so a file cut short under it fails both alike."""
        assert self._raw is not None  # noqa: S101 - open until close()
        if self._file is None:
            return None
        metadata = self._raw.metadata()
        size = self.tree_size
        if size <= 0:
            return None
        try:
            tree = mmap.mmap(self._file.fileno(), size, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # shorter than its tree, or not a file that maps
            return None
        return tree, metadata.node_count, metadata.record_size

    def lookup(self, text: str, *, distinct: bool = False) -> tuple[Answer, int]:
        """(the answer, the prefix length of its network); DatabaseError if the lookup or the
        record is corrupt. ``distinct``: the caller asks once per record (bulk.py's walk), so
        the record is flattened without the record cache's key."""
        assert self._raw is not None  # noqa: S101 - open until close()
        try:
            record, prefix_len = self._raw.get_with_prefix_len(text)
            if record is None:
                return UNKNOWN, prefix_len
            if distinct:
                return self._flatten(self.layout, record), prefix_len
            return self._answer_of(record), prefix_len
        except Exception as exc:
            message = f"corrupt database: lookup of {text} failed: {one_line(exc)}"
            raise DatabaseError(self.path, message) from exc

    def _answer_of(self, record: Any) -> Answer:  # noqa: ANN401 - a record is any data
        """The record flattened, once per distinct record: many networks share one (the city
        database answers 100k public servers from 71k networks but 18k records). The key is the
        record's marshal bytes, which tell a True from a 1 and a 1.0, and a -0.0 from a 0.0,
        where == does not: equal keys are records the flattening cannot tell apart."""
        try:
            key = marshal.dumps(record, 2)
        except ValueError:  # a depth or type marshal refuses: flattened as it is, not kept
            return self._flatten(self.layout, record)
        answer = self._records.get(key)
        if answer is None:
            answer = self._flatten(self.layout, record)
            if len(self._records) >= _CACHE_LIMIT:
                self._records.clear()
            self._records[key] = answer
        return answer

    def country_answer(self, answer: Answer) -> tuple[CountryAnswer, bool]:
        """(the answer as a CountryAnswer, whether a code in it is no country code), made once
        per answer object: the record cache gives each distinct record one, which many places
        share. By identity, not ==: equal answers may still differ (a 0.0 and a -0.0)."""
        held = self.country_answers.get(id(answer))
        if held is not None and held[0] is answer:
            return held[1], held[2]
        made = _country_answer(self.path, answer)
        defective = any(not is_country_code(code) for code in made.codes)
        if len(self.country_answers) >= _CACHE_LIMIT:
            self.country_answers.clear()
        self.country_answers[id(answer)] = (answer, made, defective)
        return made, defective

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        if self._file is not None:
            self._file.close()
        self._raw = self._file = None


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path`` now; None if it cannot be told."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _same_file(path: str, before: tuple[int, int] | None) -> BinaryIO | None:
    """The file at ``path`` opened again, for bulk.py to read the search tree from, if it is
    the one that was there before the reader opened it: then the reader opened it too (a
    database update replaces the file, a new inode). Else None, and nothing is walked: a tree
    walked must be the reader's."""
    if before is None:
        return None
    try:
        file = open(path, "rb")  # noqa: SIM115 - the database's, closed by its close()
    except OSError:
        return None
    found = os.fstat(file.fileno())
    if (found.st_dev, found.st_ino) != before:
        file.close()
        return None
    return file


def _inspect(path: str) -> tuple[DatabaseInfo, Layout]:
    """Open the file raw, check its metadata and a few records, and close it again."""
    if not os.path.isfile(path):
        reason = "is a directory" if os.path.isdir(path) else "no such file"
        raise DatabaseError(path, f"cannot open database: {reason}")
    try:
        reader = maxminddb.open_database(path, maxminddb.MODE_AUTO)
    except OSError as exc:
        raise DatabaseError(path, f"cannot open database: {exc.strerror or exc}") from exc
    except Exception as exc:
        # maxminddb's message repeats the path and asks a question; say it once, plainly.
        kind = type(exc).__name__
        raise DatabaseError(
            path, f"not a valid MaxMind DB file: corrupt or truncated ({kind})"
        ) from exc
    try:
        metadata = reader.metadata()
        check_metadata(path, metadata, os.path.getsize(path))
        # Corruption is reported as such even when the layout would be refused anyway.
        _probe(path, reader, metadata.ip_version)
        return database_info(path, metadata), layout_of(path, metadata.database_type)
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(path, f"corrupt database: {one_line(exc)}") from exc
    finally:
        reader.close()


def _probe(path: str, reader: maxminddb.Reader, ip_version: int) -> None:
    probes = _PROBES_V4 + (_PROBES_V6 if ip_version == 6 else ())
    for ip in probes:
        try:
            reader.get_with_prefix_len(ip)
        except Exception as exc:
            message = f"corrupt database: lookup of {ip} failed: {one_line(exc)}"
            raise DatabaseError(path, message) from exc


class Locator:
    """Locates addresses in the given databases, in the given order; a context manager."""

    def __init__(
        self, databases: Sequence[_Database], coarse_radius_km: int = DEFAULT_COARSE_RADIUS_KM
    ) -> None:
        self._databases = tuple(databases)
        self._coarse_radius_km = coarse_radius_km
        self._locations: dict[str, Location] = {}
        # Every database's (cached, per-network) answers -> the place they merge into:
        # addresses of one network then share its answers, flags and strings.
        self._places: dict[tuple[Answer, ...], Place] = {}

    @property
    def databases(self) -> tuple[DatabaseInfo, ...]:
        return tuple(db.info for db in self._databases)

    @property
    def opened(self) -> tuple[_Database, ...]:
        """The open databases, in the order asked."""
        return self._databases

    def locate(self, ip: str) -> Location:
        """Where the databases place ``ip``; local classes are returned without a lookup.

        Raises DatabaseError when a database turns out to be corrupt, and ValueError when ``ip``
        is not an address at all (a caller's bug: addresses come from parsed packets).
        """
        location = self._locations.get(ip)
        if location is None:
            location = self._locate(ip)
            if len(self._locations) >= _CACHE_LIMIT:
                self._locations.clear()
            self._locations[ip] = location
        return location

    def locate_all(self, ips: Sequence[str]) -> tuple[Location, ...]:
        """locate() of each address, in the order given, and as locate() raises; faster for
        many addresses (see auditor.geo.bulk)."""
        from auditor.geo.bulk import locate_all

        return locate_all(self, ips)

    def _locate(self, ip: str) -> Location:
        version, value = address_value(ip)
        address_class = class_of(version, value)
        if address_class is not None:
            return Location(ip, address_class=address_class)
        text = text_of(version, value)  # canonical, and a mapped address's IPv4
        key = tuple([db.answer(version, value, text) for db in self._databases])
        return build_location(ip, *self.place(key))

    def place(self, key: tuple[Answer, ...]) -> Place:
        """The databases' answers (one each, in order) merged: Location's fields after ip."""
        place = self._places.get(key)
        if place is None:
            place = merged_place(list(zip(self._databases, key, strict=True)),
                                 self._coarse_radius_km)  # fmt: skip
            if len(self._places) >= _CACHE_LIMIT:
                self._places.clear()
            self._places[key] = place
        return place

    def close(self) -> None:
        for db in self._databases:
            db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def text_of(version: int, value: int) -> str:
    if version == 4:
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


def _country_answer(database: str, answer: Answer) -> CountryAnswer:
    # Every field, in order, for the builder (auditor/frozen.py): one per distinct record.
    return build_country_answer(
        database,
        answer.country,
        answer.registered_country,
        answer.represented_country,
        answer.latitude,
        answer.longitude,
        answer.accuracy_radius,
    )


def open_locator(paths: Sequence[str], coarse_radius_km: int = DEFAULT_COARSE_RADIUS_KM) -> Locator:
    """Open every database, or none: the first that cannot be read raises DatabaseError."""
    opened: list[_Database] = []
    try:
        for path in paths:
            opened.append(_Database(os.fspath(path)))
    except BaseException:
        for db in opened:
            db.close()
        raise
    return Locator(opened, coarse_radius_km)
