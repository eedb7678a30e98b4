"""`audit history` and `audit diff`: the questions a scheduled audit's history answers."""

from __future__ import annotations

import argparse
import typing
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO

from auditor.cli.status import ExitStatus
from auditor.errors import AuditorError, UsageError
from auditor.model import Verdict
from auditor.report.escape import sanitize_text

if typing.TYPE_CHECKING:  # SQLAlchemy is imported only when a history is read
    from sqlalchemy.engine import Connection

    from auditor.history.target import HistoryTarget

HISTORY_ENV = "AUDITOR_HISTORY"
_VERDICTS = tuple(verdict.value for verdict in Verdict)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{message} ({self.prog} --help shows the options)")


def _common(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    parser.add_argument("--history", metavar="DB", default=env.get(HISTORY_ENV),
                        help=f"the history: a SQLite file or a postgresql:// URL "
                        f"(default: ${HISTORY_ENV})")
    parser.add_argument("--format", "-f", choices=("text", "json", "markdown"), default="text")


def build_history_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit history",
        description="List recorded runs and their findings over time. Dates and the capture "
        "narrow the runs; platform and country narrow the findings.",
    )
    _common(parser, env)
    parser.add_argument("--since", metavar="DATE", help="runs from this day or time (UTC)")
    parser.add_argument("--until", metavar="DATE", help="runs up to this day (inclusive) or time")
    parser.add_argument("--capture", metavar="PATH", help="runs that read this capture: a path, "
                        "a file name, or a glob such as '*/2026-11-*.pcap'")
    parser.add_argument("--platform", metavar="NAME", help="findings of this platform (Zoom...)")
    parser.add_argument("--country", metavar="CC", help="findings located or registered here")
    parser.add_argument("--verdict", action="append", choices=_VERDICTS, metavar="VERDICT",
                        help="findings with this verdict, repeatable (default: violation); "
                        f"one of {', '.join(_VERDICTS)}")
    parser.add_argument("--run", type=int, metavar="N", help="one run whole instead: its "
                        "policy as written, databases, captures and every finding")
    parser.add_argument("--summary", metavar="YYYY-MM", help="a month's summary for a "
                        "compliance ticket instead (best with --format markdown)")
    return parser


def build_diff_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit diff",
        description="What changed between two recorded runs: endpoints, countries and "
        "violations, and whether a database or policy change coincides with each change. "
        "Default: the last two runs that produced a result.",
    )
    _common(parser, env)
    parser.add_argument("runs", nargs="*", type=int, metavar="RUN", help="run numbers, as "
                        "'audit history' lists them: RUN_A RUN_B, or one RUN against the run "
                        "before it")
    return parser


def history_main(
    argv: Sequence[str], env: Mapping[str, str], stdout: TextIO, stderr: TextIO
) -> int:
    """argv starts with the command word, "history" or "diff"."""
    command, rest = argv[0], list(argv[1:])
    try:
        parser = (build_diff_parser if command == "diff" else build_history_parser)(env)
        args = parser.parse_args(rest)
        if not args.history:
            raise UsageError(f"audit {command}: give --history DB or set {HISTORY_ENV}")
        text = _diff(args) if command == "diff" else _history(args)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except AuditorError as error:
        stderr.write(f"audit: error: {sanitize_text(str(error))}\n")
        return ExitStatus.ERROR
    stdout.write(text)
    stdout.flush()
    return ExitStatus.OK


def _history(args: argparse.Namespace) -> str:
    from auditor.history import queries, render
    from auditor.history.store import open_store
    from auditor.history.target import parse_target

    target = parse_target(args.history)
    if args.summary:
        return _summary(args, target)
    if args.run is not None:
        return _one_run(args, target)
    filters = queries.Filters(
        since=parse_moment(args.since, end=False) if args.since else None,
        until=parse_moment(args.until, end=True) if args.until else None,
        capture=args.capture,
        platform=args.platform,
        country=args.country,
    )
    with open_store(target, create=False) as store, store.reading() as connection:
        runs = queries.list_runs(connection, filters)
        findings = queries.list_findings(connection, filters, args.verdict or ["violation"])
    if args.format == "json":
        return render.history_json(runs, findings)
    return render.history_text(runs, findings, markdown=args.format == "markdown")


def _summary(args: argparse.Namespace, target: HistoryTarget) -> str:
    from auditor.history import queries, render
    from auditor.history.store import open_store
    from auditor.history.summary import monthly_summary, parse_month

    month = parse_month(args.summary)
    filters = queries.Filters(since=month.start, until=month.end, capture=args.capture,
                              platform=args.platform, country=args.country)
    with open_store(target, create=False) as store, store.reading() as connection:
        runs = queries.list_runs(connection, filters)
        violations = queries.list_findings(connection, filters, ["violation"])
    summary = monthly_summary(month, runs, violations)
    if args.format == "json":
        return render.summary_json(summary)
    return render.summary_text(summary, markdown=args.format == "markdown", source=target.label)


def _one_run(args: argparse.Namespace, target: HistoryTarget) -> str:
    from auditor.history import queries, render
    from auditor.history.store import open_store

    with open_store(target, create=False) as store, store.reading() as connection:
        found = queries.get_runs(connection, [args.run])
        if not found:
            raise UsageError(f"{target.label}: no run {args.run} in the history")
        findings = queries.list_findings(connection, queries.Filters(), args.verdict,
                                         run_ids=[args.run])
    if args.format == "json":
        return render.one_run_json(found[0], findings)
    return render.one_run_text(found[0], findings, markdown=args.format == "markdown")


def _diff(args: argparse.Namespace) -> str:
    from auditor.history import queries, render
    from auditor.history.diff import diff_runs
    from auditor.history.store import open_store
    from auditor.history.target import parse_target

    if len(args.runs) > 2:
        raise UsageError("audit diff takes at most two run numbers")
    target = parse_target(args.history)
    with open_store(target, create=False) as store, store.reading() as connection:
        ids = _diff_ids(connection, list(args.runs), target.label)
        runs = {run.id: run for run in queries.get_runs(connection, ids)}
        missing = [i for i in ids if i not in runs]
        if missing:
            raise UsageError(f"{target.label}: no run {missing[0]} in the history")
        found = queries.list_findings(connection, queries.Filters(), run_ids=ids)
    before, after = runs[ids[0]], runs[ids[1]]
    diff = diff_runs(
        before,
        after,
        [f for f in found if f.run_id == before.id],
        [f for f in found if f.run_id == after.id],
    )
    if args.format == "json":
        return render.diff_json(diff)
    return render.diff_text(diff, markdown=args.format == "markdown")


def _diff_ids(connection: Connection, given: list[int], label: str) -> list[int]:
    from auditor.history import queries

    if len(given) == 2:
        return given
    if len(given) == 1:
        earlier = queries.result_run_ids(connection, before=given[0], count=1)
        if not earlier:
            raise UsageError(f"{label}: no run with a result before run {given[0]}")
        return [*earlier, given[0]]
    ids = queries.result_run_ids(connection, count=2)
    if len(ids) < 2:
        raise UsageError(f"{label}: audit diff needs two runs with a result; found {len(ids)}")
    return ids


def parse_moment(text: str, *, end: bool) -> datetime:
    """A day (YYYY-MM-DD) or an ISO time, as UTC; a day given as an end counts whole."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"not a date: {text!r} (give YYYY-MM-DD or an ISO time)") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if end and len(text) == len("YYYY-MM-DD"):
        moment += timedelta(days=1)
    return moment
