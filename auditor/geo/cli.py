"""`audit db info` and `audit db update`: the database subcommands the main CLI dispatches to."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import NoReturn, TextIO

from auditor.errors import AuditorError
from auditor.geo.dbinfo import (
    DEFAULT_MAX_AGE_DAYS,
    DatabaseDetails,
    build_date,
    database_age_days,
    details_of,
    ip_versions,
    is_stale,
)
from auditor.geo.discovery import discover_databases
from auditor.geo.fetch import DEFAULT_READ_SECONDS, DEFAULT_TOTAL_SECONDS, Deadlines
from auditor.geo.locator import open_locator
from auditor.geo.update import default_update_flags, load_config, update_databases
from auditor.report.escape import sanitize_text

EXIT_OK = 0
EXIT_ERROR = 2


class _StopParsingError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that writes to the given streams and returns instead of exiting."""

    def __init__(self, *args: object, out: TextIO, err: TextIO, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._out, self._err = out, err

    def _print_message(self, message: str, file: object = None) -> None:
        if message:
            (self._out if file is None else self._err).write(message)

    def print_help(self, file: object = None) -> None:
        self._out.write(self.format_help())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._err.write(message)
        raise _StopParsingError(status)

    def error(self, message: str) -> NoReturn:
        self._err.write(self.format_usage())
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _parser(out: TextIO, err: TextIO) -> _Parser:
    parser = _Parser(
        prog="audit db", description="Inspect and update geolocation databases.", out=out, err=err
    )
    commands = parser.add_subparsers(
        dest="command", metavar="{info,update}", required=True, parser_class=_sub_parser(out, err)
    )
    info = commands.add_parser("info", help="each database in use: type, age, size, SHA-256")
    info.add_argument(
        "--db",
        action="append",
        default=[],
        metavar="PATH",
        help="a database to describe (repeatable); default: as the audit finds them",
    )
    info.add_argument("--max-db-age", type=float, default=DEFAULT_MAX_AGE_DAYS, metavar="DAYS")
    info.add_argument("--format", choices=("text", "json"), default="text")
    update = commands.add_parser("update", help="download MaxMind databases like geoipupdate")
    update.add_argument("--account-id")
    update.add_argument(
        "--license-key",
        help="visible to every user in ps: prefer GEOIPUPDATE_LICENSE_KEY_FILE or GeoIP.conf",
    )
    update.add_argument(
        "--edition",
        action="append",
        default=[],
        metavar="EDITION_ID",
        help="e.g. GeoLite2-City (repeatable); default: GeoLite2-City GeoLite2-ASN",
    )
    update.add_argument("--dir", dest="directory", metavar="DIR")
    update.add_argument("--config", metavar="GEOIP_CONF", help="a GeoIP.conf to read")
    update.add_argument("--host", help="the update service (default https://updates.maxmind.com)")
    update.add_argument(
        "--read-timeout",
        type=_seconds,
        default=DEFAULT_READ_SECONDS,
        metavar="SECONDS",
        help="give up when the server sends nothing for this long (default %(default)g)",
    )
    update.add_argument(
        "--deadline",
        type=_seconds,
        default=DEFAULT_TOTAL_SECONDS,
        metavar="SECONDS",
        help="give up on any one download that takes longer (default %(default)g)",
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _sub_parser(out: TextIO, err: TextIO) -> type[_Parser]:
    class SubParser(_Parser):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, out=out, err=err, **kwargs)

    return SubParser


def db_main(
    argv: Sequence[str],
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    now: float | None = None,
) -> int:
    """Run `audit db ARGV`; 0 on success, 2 on a usage error or a database that cannot be used."""
    try:
        args = _parser(out, err).parse_args(list(argv))
    except _StopParsingError as stop:
        return stop.status
    try:
        if args.command == "info":
            return _info(args, env, out, err, time.time() if now is None else now)
        return _update(args, env, out)
    except AuditorError as exc:
        err.write(f"audit db: {sanitize_text(str(exc))}\n")
        return EXIT_ERROR
    except Exception as exc:  # a bug of ours: still one line and exit 2, never a traceback
        err.write(f"audit db: internal error: {type(exc).__name__}: {sanitize_text(str(exc))}\n")
        return EXIT_ERROR


def _info(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO, now: float
) -> int:
    paths = discover_databases(args.db, env)
    if not paths:
        err.write("audit db: no database found; give one with --db or set AUDITOR_DB\n")
        return EXIT_ERROR
    described: list[DatabaseDetails] = []
    failed = False
    for path in paths:
        try:
            with open_locator([path]) as locator:
                described.append(details_of(locator.databases[0]))
        except AuditorError as exc:  # describe the others, then fail
            err.write(f"audit db: {sanitize_text(str(exc))}\n")
            failed = True
    if args.format == "json":
        records = [_as_json(d, now, args.max_db_age) for d in described]
        out.write(json.dumps({"databases": records}, indent=2, ensure_ascii=True) + "\n")
    else:
        for details in described:
            out.write(_as_text(details, now, args.max_db_age))
    return EXIT_ERROR if failed else EXIT_OK


def _as_text(details: DatabaseDetails, now: float, max_age: float) -> str:
    info = details.info
    age = int(database_age_days(info, now))
    stale = f"  STALE: older than {max_age:g} days" if is_stale(info, now, max_age) else ""
    lines = [
        sanitize_text(info.path),
        f"  type:         {sanitize_text(info.database_type)}",
        f"  built:        {build_date(info)} ({age} days ago){stale}",
        f"  IP versions:  {ip_versions(info)}",
        f"  nodes:        {info.node_count}",
        f"  size:         {details.size} bytes",
        f"  sha256:       {details.sha256}",
    ]
    if info.description:
        lines.append(f"  description:  {sanitize_text(info.description)}")
    if info.attribution:
        lines.append(f"  attribution:  {sanitize_text(info.attribution)}")
    return "\n".join(lines) + "\n\n"


def _as_json(details: DatabaseDetails, now: float, max_age: float) -> dict[str, object]:
    info = details.info
    return {
        "path": info.path,
        "type": info.database_type,
        "build_epoch": info.build_epoch,
        "build_date": build_date(info),
        "age_days": round(database_age_days(info, now), 1),
        "stale": is_stale(info, now, max_age),
        "ip_version": info.ip_version,
        "node_count": info.node_count,
        "size": details.size,
        "sha256": details.sha256,
        "description": info.description,
        "attribution": info.attribution,
    }


def _update(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    flags = default_update_flags(
        account_id=args.account_id,
        license_key=args.license_key,
        edition_ids=args.edition,
        directory=args.directory,
        host=args.host,
    )
    config = replace(
        load_config(flags, env, args.config),
        deadlines=Deadlines(read_seconds=args.read_timeout, total_seconds=args.deadline),
    )
    for result in update_databases(config):
        state = "updated" if result.updated else "already current"
        out.write(f"{sanitize_text(result.path)}: {result.edition_id} {result.date} {state}\n")
    return EXIT_OK
