"""`audit db info` and `audit db update`: the geolocation databases in use, and fetching them."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from auditor.cli.environment import Environment
from auditor.cli.failures import guarded
from auditor.cli.options import Parser, parse
from auditor.cli.status import ExitStatus
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


def run(argv: list[str], env: Environment) -> int:
    """Run `audit db ARGV`; 0 on success, 2 on a usage error or a database that cannot be used."""
    env = env.for_program("audit db")
    args = parse(build_parser(env), argv, intermixed=False)
    if isinstance(args, int):
        return args
    if args.command == "info":
        return guarded(env, lambda: _info(args, env), aftermath="")
    # Interrupted like an audit: unwinding removes a partial download on the way out.
    return guarded(env, lambda: _update(args, env),
                   aftermath="; nothing partial was left behind")


def build_parser(env: Environment) -> Parser:
    parser = Parser(
        prog="audit db", description="Inspect and update geolocation databases.", env=env
    )
    commands = parser.add_subparsers(
        dest="command", metavar="{info,update}", required=True,
        parser_class=parser.subparser_class(),
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
    update = commands.add_parser(
        "update", help="download DB-IP Lite (no account), and MaxMind databases like geoipupdate"
    )
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
        help="e.g. GeoLite2-City or dbip-city-lite (repeatable); default: dbip-city-lite, "
        "and GeoLite2-City GeoLite2-ASN when a MaxMind account is configured",
    )
    update.add_argument("--dir", dest="directory", metavar="DIR")
    update.add_argument("--config", metavar="GEOIP_CONF", help="a GeoIP.conf to read")
    update.add_argument("--host", help="the update service (default https://updates.maxmind.com)")
    update.add_argument(
        "--dbip-host", help="where DB-IP Lite's /free/ files are (default https://download.db-ip.com)"
    )
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


def _info(args: argparse.Namespace, env: Environment) -> int:
    now = env.now()
    paths = discover_databases(args.db, env.env)
    if not paths:
        env.error("no database found; give one with --db or set AUDITOR_DB")
        return ExitStatus.ERROR
    described: list[DatabaseDetails] = []
    failed = False
    for path in paths:
        try:
            with open_locator([path]) as locator:
                described.append(details_of(locator.databases[0]))
        except AuditorError as exc:  # describe the others, then fail
            env.error(str(exc))
            failed = True
    if args.format == "json":
        records = [_as_json(d, now, args.max_db_age) for d in described]
        env.stdout.write(json.dumps({"databases": records}, indent=2, ensure_ascii=True) + "\n")
    else:
        for details in described:
            env.stdout.write(_as_text(details, now, args.max_db_age))
    return ExitStatus.ERROR if failed else ExitStatus.OK


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


def _update(args: argparse.Namespace, env: Environment) -> int:
    flags = default_update_flags(
        account_id=args.account_id,
        license_key=args.license_key,
        edition_ids=args.edition,
        directory=args.directory,
        host=args.host,
        dbip_host=args.dbip_host,
    )
    config = replace(
        load_config(flags, env.env, args.config),
        deadlines=Deadlines(read_seconds=args.read_timeout, total_seconds=args.deadline),
    )
    for result in update_databases(config, env.now()):
        state = "updated" if result.updated else "already current"
        env.stdout.write(
            f"{sanitize_text(result.path)}: {result.edition_id} {result.date} {state}\n"
        )
    return ExitStatus.OK
