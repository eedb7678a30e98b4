"""`audit CAPTURE...`: parse, run the audit, warn, write the report and the history line."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from auditor.cli.cluster import add_cluster_options, cluster_options
from auditor.cli.environment import Environment
from auditor.cli.failures import guarded
from auditor.cli.options import Parser, add_audit_options, parse
from auditor.cli.output import OutputConflictError, check_output_path, write_report
from auditor.cli.status import ExitStatus
from auditor.errors import AuditorError, HistoryError, UsageError
from auditor.model import AuditResult, JudgeBy, Policy, Severity, Vantage
from auditor.report import OutputFormat
from auditor.report.escape import rich_markup

if typing.TYPE_CHECKING:
    from auditor.history.recording import HistoryWriter
    from auditor.policy.exceptions import Baseline


def run(argv: list[str], env: Environment) -> int:
    return run_auditing(build_parser(env), argv, env, lambda args: audit(args, env))


def run_auditing(
    parser: Parser, argv: list[str], env: Environment, body: Callable[[argparse.Namespace], int]
) -> int:
    """Parse, then run `body` guarded (audit, live, collect): a run that fails is recorded in
    the history too."""
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    args.captures = getattr(args, "captures", [])  # live and collect know theirs once written
    return guarded(env, lambda: body(args), debug=args.debug,
                   on_error=lambda error: record_failure(args, env, error))


def build_parser(env: Environment | None = None) -> Parser:
    parser = Parser(
        prog="audit",
        env=env or Environment(),
        description="Audit where a video meeting's traffic went: replay captures, geolocate "
        "every server endpoint, judge it against a jurisdiction policy.",
        epilog="Exit status: 0 every endpoint allowed and every capture read whole; "
        "1 at least one violation; 2 usage error or input that could not be audited. "
        "'audit live' captures from an interface first; 'audit collect' receives NetFlow/IPFIX "
        "export first; 'audit db info' and 'audit db update' manage the geolocation "
        "databases; 'audit history' and 'audit diff' query the runs recorded with --history.",
    )
    parser.add_argument("captures", nargs="+", metavar="CAPTURE",
                        help="pcap or pcapng file(s), Zeek conn.log files or log folders, "
                        "flow export files (audit collect -w), optionally gzip-compressed; - for "
                        "standard input")
    add_audit_options(parser)
    add_cluster_options(parser)
    return parser


def audit(
    args: argparse.Namespace,
    env: Environment,
    policy: Policy | None = None,
    databases: list[str] | None = None,
) -> int:
    """The audit of args.captures; `audit live` passes what it checked before capturing."""
    from auditor.audit import AuditRequest, collector_paused, default_workers, run_audit
    from auditor.cli.inputs import expand_inputs

    args.captures = expand_inputs(args.captures)  # folders and quoted patterns: their files
    policy = policy or policy_from(args)
    databases = databases or find_databases(args, env)
    check_outputs(args, databases)
    history = _open_history(args)  # before the audit: a history that cannot be written fails fast
    request = AuditRequest(
        # "-" is standard input, as for tcpdump -r -: `tcpdump -w - ... | audit - --allow EU`.
        captures=tuple("/dev/stdin" if c == "-" else c for c in args.captures),
        databases=tuple(databases),
        policy=policy,
        workers=args.workers or default_workers(),
        max_db_age_days=args.max_db_age,
        now=env.now(),
        vantage=_vantage(args) or policy.vantage,
        cluster=cluster_options(args),
        baseline=_baseline(args),
    )
    files = len(request.captures) if request.cluster else None
    with _progress(env, quiet=args.quiet, files=files) as progress:
        result = run_audit(request, progress)
    # A report on the terminal shows the warnings itself: said once, not twice on one screen.
    _warn_about(result, env, quiet=args.quiet or (not args.output and env.stdout_isatty))
    with collector_paused():  # the report and history walk the result: no cycles are made
        report_error = _report(result, args, env)
        if history is not None:
            history.record(result, requested=request.captures, policy_file=args.policy,
                           run_error=report_error)
    if report_error is not None:
        return ExitStatus.ERROR
    if args.exit_zero and result.exit_status == ExitStatus.VIOLATIONS:
        return ExitStatus.OK
    return result.exit_status


def _report(result: AuditResult, args: argparse.Namespace, env: Environment) -> str | None:
    """Write the report; the error, if it could not be, for the history to record."""
    # When no capture could be read at all, a person at a terminal is told by the error lines on
    # stderr; an empty table would read like an audit that found nothing. A machine-readable
    # report is still written: it carries the error and the verdict "incomplete".
    from auditor.cli.output import report_format

    human = not args.output and report_format(args, env) in (OutputFormat.TABLE,
                                                             OutputFormat.TEXT)
    if not result.captures and human:
        return None
    try:
        write_report(result, args, env)
    except AuditorError as error:
        env.error(str(error))
        return str(error)
    return None


def _vantage(args: argparse.Namespace) -> Vantage | None:
    if not args.vantage:
        return None
    from auditor.geo.vantage import VantageError, parse_vantage

    try:
        return parse_vantage(args.vantage)
    except VantageError as error:
        raise UsageError(f"--vantage: {error}") from error


def policy_from(args: argparse.Namespace) -> Policy:
    """The policy file's or the command line's policy; --fail-on over the file's fail_on."""
    policy = _policy_from(args)
    return dataclasses.replace(policy, fail_on=Severity(args.fail_on)) if args.fail_on else policy


def _policy_from(args: argparse.Namespace) -> Policy:
    from auditor.policy import load_policy_file, parse_policy

    judge_by = JudgeBy(args.judge_by) if args.judge_by else None
    if args.policy:
        if args.allow or args.deny:
            raise UsageError("give either --policy or --allow/--deny, not both")
        return load_policy_file(args.policy, strict=args.strict, judge_by=judge_by)
    return parse_policy(
        args.allow, args.deny, strict=args.strict, judge_by=judge_by or JudgeBy.LOCATION
    )


def _baseline(args: argparse.Namespace) -> Baseline | None:
    if not args.baseline:
        return None
    from auditor.report.baseline import load_baseline

    return load_baseline(args.baseline)


def check_outputs(args: argparse.Namespace, databases: Sequence[str]) -> None:
    """Refuse, before anything is read or captured, an output path that is one of the inputs."""
    captures = [("capture", c) for c in args.captures if c != "-"]
    others = [("database", d) for d in databases]
    others += [("policy file", args.policy)] if args.policy else []
    others += [("baseline report", args.baseline)] if getattr(args, "baseline", None) else []
    history = [("history file", args.history)] if args.history else []
    if args.history:
        check_output_path(args.history, "history", captures + others)
    if args.output:
        check_output_path(args.output, "report", captures + others + history)
    if getattr(args, "write", None):  # audit live -w: the capture itself is what it writes
        check_output_path(args.write, "capture", others + history)


def find_databases(args: argparse.Namespace, env: Environment) -> list[str]:
    from auditor.geo import discover_databases

    found = discover_databases(args.db, env.env)
    if not found:
        raise UsageError(
            "no geolocation database found: give one with --db FILE.mmdb or set AUDITOR_DB"
        )
    return found


def _warn_about(result: AuditResult, env: Environment, *, quiet: bool) -> None:
    for error in result.errors:
        env.error(error)
    if quiet:
        return
    for capture in result.captures:
        for warning in capture.warnings:
            env.warning(f"{capture.path}: {warning}")
    for warning in result.warnings:
        env.warning(warning)


def record_failure(args: argparse.Namespace, env: Environment, error: AuditorError) -> None:
    """A run that failed is history too; except when the history itself is what failed, or
    is what an output path would have overwritten."""
    if not getattr(args, "history", None) or isinstance(error, OutputConflictError |
                                                        HistoryError):
        return
    try:
        history = _open_history(args)
        if history is not None:
            history.record_failure(str(error), requested=list(args.captures))
    except AuditorError as failure:
        env.error(str(failure))


def _open_history(args: argparse.Namespace) -> HistoryWriter | None:
    if not getattr(args, "history", None):
        return None
    from auditor.history.recording import open_history

    return open_history(args.history)


@contextlib.contextmanager
def _progress(
    env: Environment, *, quiet: bool, files: int | None = None
) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar of bytes read, on stderr, only when stderr is a terminal; one line
    for all ``files`` when given (a cluster run)."""
    if quiet or not env.stderr_colour:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(file=env.stderr),
        transient=True,
    )
    tasks: dict[str, object] = {}

    def update(path: str, done: int, total: int) -> None:
        if path not in tasks:
            # The description is rich markup: a file name is data, escaped like any other.
            tasks[path] = bar.add_task(f"reading {rich_markup(Path(path).name)}", total=total)
        bar.update(tasks[path], completed=done)  # type: ignore[arg-type]

    with bar:
        if files is None:
            yield update
        else:
            from auditor.cluster.progress import FilesAndBytes

            yield FilesAndBytes(bar, files)
