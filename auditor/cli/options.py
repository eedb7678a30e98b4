"""The argument parser every command uses, and the options `audit` and `audit live` share."""

from __future__ import annotations

import argparse
import sys
import typing

from auditor import __version__
from auditor.cli.environment import Environment
from auditor.cli.status import ExitStatus
from auditor.errors import UsageError
from auditor.geo.dbinfo import DEFAULT_MAX_AGE_DAYS
from auditor.model import JudgeBy, Severity
from auditor.report import OutputFormat


class ParserExit(Exception):  # noqa: N818 - not an error: --help or --version was answered
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    """argparse that writes to the Environment's streams, reports usage errors as UsageError
    (so they reach the one error path) and returns instead of exiting."""

    def __init__(self, *args: object, env: Environment, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.env = env

    def _print_message(self, message: str, file: object = None) -> None:
        if message:
            (self.env.stderr if file is sys.stderr else self.env.stdout).write(message)

    def exit(self, status: int = 0, message: str | None = None) -> typing.NoReturn:
        if message:
            self.env.stderr.write(message)
        raise ParserExit(status)

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{message} ({self.prog} --help shows the options)")

    def subparser_class(self) -> type[Parser]:
        env = self.env

        class SubParser(Parser):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, env=env, **kwargs)

        return SubParser


class _Version(argparse.Action):
    """--version, with the packet loop this install has. The capture package is imported only
    when asked: it is tens of milliseconds of every other command's start-up."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from auditor.capture.fastpath import loop_name

        parser._print_message(f"auditor {__version__} ({loop_name()})\n", sys.stdout)
        parser.exit()


def parse(
    parser: Parser, argv: list[str], *, intermixed: bool = True
) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status when there is nothing to run: --help and
    --version answered (0), or a usage error said in one line (2)."""
    try:
        if intermixed:  # options after the captures too: `audit a.pcap -f json b.pcap`
            return parser.parse_intermixed_args(argv)
        return parser.parse_args(argv)  # subcommands (audit db) cannot be intermixed
    except ParserExit as stop:
        return stop.status
    except UsageError as error:
        parser.env.error(str(error))
        return ExitStatus.ERROR


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def add_audit_options(parser: argparse.ArgumentParser) -> None:
    policy = parser.add_argument_group("policy")
    policy.add_argument("--allow", action="append", default=[], metavar="CODES",
                        help="allowed jurisdictions: ISO 3166 alpha-2 codes and groups "
                        "(EU, EEA, ...), comma-separated, repeatable")
    policy.add_argument("--deny", action="append", default=[], metavar="CODES",
                        help="denied jurisdictions, even inside an allowed group")
    policy.add_argument("--policy", metavar="FILE", help="a TOML policy file (allow, deny, "
                        "strict, judge_by)")
    policy.add_argument("--strict", action="store_true",
                        help="unknown locations and stale databases count as violations")
    policy.add_argument("--judge-by", choices=[j.value for j in JudgeBy], default=None,
                        help="judge the located country, the registered one, or both "
                        "(default: location)")
    policy.add_argument("--fail-on", choices=[s.value for s in Severity], default=None,
                        help="the least severe finding that fails the run: denied, outside "
                        "(the allowed list; the default) or unknown (as --strict)")
    policy.add_argument("--baseline", metavar="REPORT.json", help="an earlier JSON report: "
                        "its violations do not fail this run, only new ones do")
    geo = parser.add_argument_group("geolocation")
    geo.add_argument("--db", action="append", default=[], metavar="MMDB",
                     help="MaxMind-format database (City/Country/ASN...), repeatable; default: "
                     "$AUDITOR_DB, the GeoIP folders, then the bundled database")
    geo.add_argument("--max-db-age", type=float, default=float(DEFAULT_MAX_AGE_DAYS),
                     metavar="DAYS", help="warn when a database is older than this "
                     f"(default {DEFAULT_MAX_AGE_DAYS})")
    geo.add_argument("--vantage", metavar="PLACE", help="where the captures were taken: "
                     "lat,lon, an ISO country code or a city; default: the policy file's, else "
                     "inferred from the capture host's public address")
    out = parser.add_argument_group("output")
    out.add_argument("--format", "-f", choices=[f.value for f in OutputFormat], default=None,
                     help="report format (default: table on a terminal, text otherwise, or "
                     "from the -o file's extension)")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE "
                     "(atomically) instead of stdout")
    out.add_argument("--history", metavar="DB", help="record the run (policy, databases, "
                     "captures, every finding) in a SQLite file (auditor.db), a postgresql:// "
                     "URL, or as one JSON line in a .jsonl file; see 'audit history'")
    out.add_argument("--sarif-root", metavar="DIR", help="SARIF: capture paths relative to "
                     "DIR (the repository checkout), as code-scanning hosts want them")
    out.add_argument("--sarif-help-url", metavar="URL", help="SARIF: the page documenting "
                     "the rules (informationUri; each rule's helpUri is URL#auditor001...)")
    out.add_argument("--exit-zero", action="store_true",
                     help="exit 0 even when there are violations (errors still exit 2)")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress or warnings on "
                     "stderr")
    run = parser.add_argument_group("run")
    run.add_argument("--workers", type=positive_int, default=None, metavar="N",
                     help="processes to use (default: up to 2, one per core)")
    run.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action=_Version,
                        help="show program's version number and exit")
