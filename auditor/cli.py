"""Command line: parses arguments, runs the audit, writes the report, returns the exit status."""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import logging
import os
import signal
import sys
import tempfile
import time
import traceback
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

from auditor import __version__
from auditor.audit import AuditRequest, default_workers, run_audit
from auditor.errors import AuditorError, HistoryError, UsageError
from auditor.model import AuditResult, ExitStatus, JudgeBy, Policy
from auditor.report.escape import rich_markup, sanitize_text
from auditor.report.output import OutputConflictError, check_output_path, write_report_file

if typing.TYPE_CHECKING:
    from auditor.history.recording import HistoryWriter

FORMATS = ("table", "text", "json", "csv", "junit", "sarif", "html")
# `-o report.sarif` without --format means SARIF: the extension says what the user wants.
FORMAT_BY_SUFFIX = {
    ".json": "json",
    ".csv": "csv",
    ".xml": "junit",
    ".sarif": "sarif",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}


class ClosedStream(io.StringIO):
    """A standard stream the caller closed (`audit ... >&-`), where Python gives None.

    Writing a report to a closed standard output fails as an OSError, like any unwritable file;
    messages to a closed standard error have nowhere to go and are dropped.
    """

    def __init__(self, name: str, *, fail: bool) -> None:
        super().__init__()
        self.name, self._fail = name, fail

    def write(self, text: str) -> int:
        if self._fail:
            raise OSError(errno.EBADF, "closed by the caller")
        return len(text)

    def isatty(self) -> bool:
        return False


@dataclass
class Environment:
    """The streams and terminal facts the CLI works with, so tests can swap them."""

    stdout: TextIO = field(
        default_factory=lambda: sys.stdout or ClosedStream("standard output", fail=True)
    )
    stderr: TextIO = field(
        default_factory=lambda: sys.stderr or ClosedStream("standard error", fail=False)
    )
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Looked up when the Environment is made, not at import; None is a closed stream.
    stdout_isatty: bool = field(default_factory=lambda: bool(sys.stdout and sys.stdout.isatty()))
    stderr_isatty: bool = field(default_factory=lambda: bool(sys.stderr and sys.stderr.isatty()))
    now: Callable[[], float] = time.time

    @property
    def colour_allowed(self) -> bool:
        # bandit's and the no-color.org convention: colour only on a TTY, never with NO_COLOR
        # set (to anything) or on a dumb terminal.
        return "NO_COLOR" not in self.env and self.env.get("TERM") != "dumb"

    @property
    def stdout_is_terminal(self) -> bool:
        return self.stdout_isatty and self.colour_allowed


class _TerminatedError(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, leaving no partial report behind.

    A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` on the way (the
    capture reader turns its own bugs into CaptureError) can swallow it and go on auditing.
    """


def main(argv: Sequence[str], environment: Environment | None = None) -> int:
    env = environment or Environment()
    if argv and argv[0] == "db":
        return _db(argv[1:], env)
    if argv and argv[0] in ("history", "diff"):
        from auditor.history.commands import history_main

        return history_main(list(argv), env.env, env.stdout, env.stderr)
    live = bool(argv) and argv[0] == "live"
    collecting = bool(argv) and argv[0] == "collect"
    parser = build_live_parser() if live else build_parser()
    if collecting:
        parser = build_collect_parser()
    try:
        args = parser.parse_intermixed_args(list(argv[1:] if live or collecting else argv))
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    except UsageError as error:
        _error(env, str(error))
        return ExitStatus.ERROR
    with _signals_as_exceptions():
        try:
            if collecting:
                return _collect(args, env)
            return _live(args, env) if live else _audit(args, env)
        except KeyboardInterrupt:
            _error(env, "interrupted; no report written")
            return ExitStatus.SIGINT
        except _TerminatedError:
            _error(env, "terminated; no report written")
            return ExitStatus.SIGTERM
        except AuditorError as error:
            if args.debug:
                traceback.print_exc(file=env.stderr)
            _error(env, str(error))
            if not isinstance(error, OutputConflictError | HistoryError):
                _record_failure(args, env, str(error))
            return ExitStatus.ERROR
        except Exception as error:  # a bug of ours: still one line, the traceback on request
            if args.debug:
                traceback.print_exc(file=env.stderr)
            _error(env, f"internal error: {type(error).__name__}: {error} (--debug shows more)")
            return ExitStatus.ERROR


def _db(argv: Sequence[str], env: Environment) -> int:
    from auditor.geo.cli import db_main

    # Interrupted like an audit: unwinding removes a partial download on the way out.
    with _signals_as_exceptions():
        try:
            return db_main(list(argv), env.env, env.stdout, env.stderr)
        except KeyboardInterrupt:
            _error(env, "interrupted; nothing partial was left behind")
            return ExitStatus.SIGINT
        except _TerminatedError:
            _error(env, "terminated; nothing partial was left behind")
            return ExitStatus.SIGTERM


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as UsageError, so they reach the one error path."""

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{message} (audit --help shows the options)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit",
        description="Audit where a video meeting's traffic went: replay captures, geolocate "
        "every server endpoint, judge it against a jurisdiction policy.",
        epilog="Exit status: 0 every endpoint allowed and every capture read whole; "
        "1 at least one violation; 2 usage error or input that could not be audited. "
        "'audit live' captures from an interface first; 'audit collect' receives NetFlow/IPFIX "
        "export first; 'audit db info' and "
        "'audit db update' manage the geolocation databases; 'audit history' and "
        "'audit diff' query the runs recorded with --history.",
    )
    parser.add_argument("captures", nargs="+", metavar="CAPTURE",
                        help="pcap or pcapng file(s), Zeek conn.log files or log folders, "
                        "flow export files (audit collect -w), optionally gzip-compressed; - for "
                        "standard input")
    _add_audit_options(parser)
    return parser


def build_live_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit live",
        description="Capture a meeting live from an interface (scapy; needs root or "
        "CAP_NET_RAW), save it as pcap, then audit it.",
    )
    live = parser.add_argument_group("capture")
    live.add_argument("-i", "--interface", required=True, help="interface to capture on")
    live.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    live.add_argument("--count", type=int, metavar="PACKETS", help="stop after this many packets")
    live.add_argument("-w", "--write", metavar="FILE", help="keep the capture in FILE (pcap); "
                      "default: a temporary file, removed after the audit")
    _add_audit_options(parser)
    return parser


def build_collect_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit collect",
        description="Receive NetFlow v5/v9 or IPFIX export over UDP for a while, keep it in a "
        "file, then audit the flows.",
    )
    collect = parser.add_argument_group("collect")
    collect.add_argument("--listen", required=True, metavar="ADDRESS:PORT",
                         help="where exporters send to, e.g. 127.0.0.1:2055 (port 0: any free "
                         "port, said on stderr)")
    collect.add_argument("--duration", type=float, required=True, metavar="SECONDS",
                         help="stop receiving after this long")
    collect.add_argument("-w", "--write", metavar="FILE", help="keep the received export in "
                         "FILE (audit FILE reads it again); default: a temporary file")
    _add_audit_options(parser)
    return parser


def _add_audit_options(parser: argparse.ArgumentParser) -> None:
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
    geo = parser.add_argument_group("geolocation")
    geo.add_argument("--db", action="append", default=[], metavar="MMDB",
                     help="MaxMind-format database (City/Country/ASN...), repeatable; default: "
                     "$AUDITOR_DB, the GeoIP folders, then the bundled database")
    geo.add_argument("--max-db-age", type=float, default=45.0, metavar="DAYS",
                     help="warn when a database is older than this (default 45)")
    out = parser.add_argument_group("output")
    out.add_argument("--format", "-f", choices=FORMATS, default=None,
                     help="report format (default: table on a terminal, text otherwise, or "
                     "from the -o file's extension)")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE "
                     "(atomically) instead of stdout")
    out.add_argument("--history", metavar="DB", help="record the run (policy, databases, "
                     "captures, every finding) in a SQLite file (auditor.db), a postgresql:// "
                     "URL, or as one JSON line in a .jsonl file; see 'audit history'")
    out.add_argument("--exit-zero", action="store_true",
                     help="exit 0 even when there are violations (errors still exit 2)")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress or warnings on "
                     "stderr")
    run = parser.add_argument_group("run")
    run.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                     help="processes to use (default: up to 2, one per core)")
    run.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")


def _live(args: argparse.Namespace, env: Environment) -> int:
    if args.write:
        return _audit_live_into(Path(args.write), args, env)
    with tempfile.TemporaryDirectory(prefix="auditor-live-") as folder:
        return _audit_live_into(Path(folder) / "live.pcap", args, env)


def _audit_live_into(target: Path, args: argparse.Namespace, env: Environment) -> int:
    from auditor.live import capture_live, check_live_request

    # A bad policy, database, interface or output path fails before minutes of capturing.
    check_live_request(args.interface, args.duration, args.count, target)
    policy = _policy_from(args)
    databases = _databases(args, env)
    args.captures = [str(target)]
    _check_outputs(args, databases)
    # scapy logs its warnings (no route, no address on an interface...) itself, on stderr.
    logging.getLogger("scapy").setLevel(logging.ERROR if args.quiet else logging.WARNING)

    def started() -> None:  # also what the live tests wait for before sending traffic
        if not args.quiet:
            env.stderr.write(f"audit: capturing on {sanitize_text(args.interface)}...\n")
            env.stderr.flush()

    capture_live(args.interface, target, duration=args.duration, count=args.count,
                 on_start=started)
    return _audit(args, env, policy, databases)


def _collect(args: argparse.Namespace, env: Environment) -> int:
    from auditor.sources.collect import collect, parse_listen, ready_line

    # A bad policy, database, address or output path fails before minutes of collecting.
    policy = _policy_from(args)
    databases = _databases(args, env)
    listen = parse_listen(args.listen)

    def receive_into(target: Path) -> int:
        args.captures = [str(target)]
        _check_outputs(args, databases)
        # The readiness line goes out even with --quiet: scripts start their exporter on it.
        collect(listen, target, duration=args.duration,
                on_ready=lambda bound: _say(env, ready_line(bound, args.duration)))
        return _audit(args, env, policy, databases)

    if args.write:
        return receive_into(Path(args.write))
    with tempfile.TemporaryDirectory(prefix="auditor-collect-") as folder:
        return receive_into(Path(folder) / "export.flows")


def _say(env: Environment, line: str) -> None:
    env.stderr.write(f"audit: {line}\n")
    env.stderr.flush()


def _audit(
    args: argparse.Namespace,
    env: Environment,
    policy: Policy | None = None,
    databases: list[str] | None = None,
) -> int:
    policy = policy or _policy_from(args)
    databases = databases or _databases(args, env)
    _check_outputs(args, databases)
    history = _open_history(args)  # before the audit: a history that cannot be written fails fast
    request = AuditRequest(
        # "-" is standard input, as for tcpdump -r -: `tcpdump -w - ... | audit - --allow EU`.
        captures=tuple("/dev/stdin" if c == "-" else c for c in args.captures),
        databases=tuple(databases),
        policy=policy,
        workers=args.workers or default_workers(),
        max_db_age_days=args.max_db_age,
        now=env.now(),
    )
    with _progress(env, quiet=args.quiet) as progress:
        result = run_audit(request, progress)
    _warn_about(result, env, quiet=args.quiet)
    # When no capture could be read at all, a person at a terminal is told by the error lines on
    # stderr; an empty table would read like an audit that found nothing. A machine-readable
    # report is still written: it carries the error and the verdict "incomplete".
    human = not args.output and _format_name(args, env) in ("table", "text")
    report_error = None
    if result.captures or not human:
        try:
            _write_report(result, args, env)
        except AuditorError as error:  # the history still records the run, with this error
            report_error = str(error)
    if report_error is not None:
        _error(env, report_error)
    if history is not None:
        history.record(result, requested=request.captures, policy_file=args.policy,
                       run_error=report_error)
    if report_error is not None:
        return ExitStatus.ERROR
    if args.exit_zero and result.exit_status == ExitStatus.VIOLATIONS:
        return ExitStatus.OK
    return result.exit_status


def _policy_from(args: argparse.Namespace) -> Policy:
    from auditor.policy import load_policy_file, parse_policy

    judge_by = JudgeBy(args.judge_by) if args.judge_by else None
    if args.policy:
        if args.allow or args.deny:
            raise UsageError("give either --policy or --allow/--deny, not both")
        loaded = load_policy_file(args.policy)
        return parse_policy(
            loaded.allow_spec,
            loaded.deny_spec,
            strict=args.strict or loaded.strict,
            judge_by=judge_by or loaded.judge_by,
        )
    return parse_policy(
        args.allow, args.deny, strict=args.strict, judge_by=judge_by or JudgeBy.LOCATION
    )


def _check_outputs(args: argparse.Namespace, databases: Sequence[str]) -> None:
    """Refuse, before anything is read or captured, an output path that is one of the inputs."""
    captures = [("capture", c) for c in args.captures if c != "-"]
    others = [("database", d) for d in databases]
    others += [("policy file", args.policy)] if args.policy else []
    history = [("history file", args.history)] if args.history else []
    if args.history:
        check_output_path(args.history, "history", captures + others)
    if args.output:
        check_output_path(args.output, "report", captures + others + history)
    if getattr(args, "write", None):  # audit live -w: the capture itself is what it writes
        check_output_path(args.write, "capture", others + history)


def _databases(args: argparse.Namespace, env: Environment) -> list[str]:
    from auditor.geo import discover_databases

    found = discover_databases(args.db, env.env)
    if not found:
        raise UsageError(
            "no geolocation database found: give one with --db FILE.mmdb or set AUDITOR_DB"
        )
    return found


def _format_name(args: argparse.Namespace, env: Environment) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        return FORMAT_BY_SUFFIX.get(Path(args.output).suffix.lower(), "text")
    return "table" if env.stdout_is_terminal else "text"


def _write_report(result: AuditResult, args: argparse.Namespace, env: Environment) -> None:
    from auditor.report import get_format

    name = _format_name(args, env)
    if name == "table" and not args.output and env.stdout_is_terminal:
        from rich.console import Console

        from auditor.report.table import print_table

        print_table(result, Console(file=env.stdout, force_terminal=True, highlight=False))
        return
    text = get_format(name).render(result)
    where = args.output or "standard output"
    try:
        if args.output:
            write_report_file(Path(args.output), text)
        else:
            env.stdout.write(text)
            env.stdout.flush()
    except OSError as error:
        raise AuditorError(f"{where}: cannot write report: {error.strerror}") from error


def _warn_about(result: AuditResult, env: Environment, *, quiet: bool) -> None:
    for error in result.errors:
        _error(env, error)
    if quiet:
        return
    for capture in result.captures:
        for warning in capture.warnings:
            _warning(env, f"{capture.path}: {warning}")
    for warning in result.warnings:
        _warning(env, warning)


def _record_failure(args: argparse.Namespace, env: Environment, message: str) -> None:
    if not getattr(args, "history", None):
        return
    try:
        history = _open_history(args)
        if history is not None:
            history.record_failure(message, requested=list(args.captures))
    except AuditorError as error:
        _error(env, str(error))


def _open_history(args: argparse.Namespace) -> HistoryWriter | None:
    if not getattr(args, "history", None):
        return None
    from auditor.history.recording import open_history

    return open_history(args.history)


def _error(env: Environment, message: str) -> None:
    env.stderr.write(f"audit: error: {sanitize_text(message)}\n")
    env.stderr.flush()


def _warning(env: Environment, message: str) -> None:
    env.stderr.write(f"audit: warning: {sanitize_text(message)}\n")


@contextlib.contextmanager
def _progress(
    env: Environment, *, quiet: bool
) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar of bytes read, on stderr, only when stderr is a terminal."""
    if quiet or not env.stderr_isatty or not env.colour_allowed:
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
        yield update


@contextlib.contextmanager
def _signals_as_exceptions() -> Iterator[None]:
    """SIGINT as KeyboardInterrupt and SIGTERM as _TerminatedError while the command runs, so
    both unwind through the `finally`s that remove temporary files.

    `python -m auditor` ends the process directly on either signal until this point (see
    __main__), so that one arriving during the imports gives no traceback either.
    """

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise _TerminatedError

    handlers = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: on_sigterm}
    previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
    try:
        for signum, handler in handlers.items():
            # A signal the caller ignores (a background job of a script, nohup) stays ignored.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread (tests running main() in a thread)
        yield
        return
    try:
        yield
    finally:
        for number, earlier in previous.items():
            signal.signal(number, earlier)
