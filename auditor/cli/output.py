"""Where the report goes and in which format: standard output, or a file given with -o.

`-o` must behave as a careful shell redirection would. A regular file (or the file a symlink
points at) is replaced whole, so a reader never sees half a report, keeping the mode the file
had or, for a new file, the mode the umask allows. A character device or a FIFO (/dev/null,
/dev/stdout, a named pipe) is written into and never replaced: replacing /dev/null as root would
turn it into a regular file. A path that is also an input of the run is refused before anything
is read, so an audit never overwrites its own evidence.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from auditor.atomic import replacing
from auditor.cli.environment import Environment
from auditor.errors import AuditorError, UsageError
from auditor.model import AuditResult
from auditor.report import OutputFormat, RenderOptions


class OutputConflictError(UsageError):
    """The report or history path is also an input of the run, or cannot be a file at all."""


def check_output_path(path: str, role: str, inputs: Iterable[tuple[str, str]]) -> None:
    """Refuse a directory, and any path that is one of the `inputs` ((role, path) pairs)."""
    target = _stat(path)
    if target is not None and stat.S_ISDIR(target.st_mode):
        raise OutputConflictError(f"{path}: is a directory; {role} needs a file name")
    if target is not None and not stat.S_ISREG(target.st_mode):
        return  # writing into a device or FIFO never destroys it (and /dev/stdin may be one)
    for input_role, input_path in inputs:
        if _same_file(path, target, input_path):
            raise OutputConflictError(
                f"{path}: is also the {input_role} of this run; refusing to write the "
                f"{role} over it"
            )


def report_format(args: argparse.Namespace, env: Environment) -> OutputFormat:
    """--format; else what the -o file's suffix names; else a table on a terminal, text for a
    pipe. NO_COLOR only takes the colour away: a terminal still gets the table."""
    if args.format:
        return OutputFormat(args.format)
    if args.output:
        return OutputFormat.for_suffix(Path(args.output).suffix) or OutputFormat.TEXT
    return OutputFormat.TABLE if env.stdout_isatty else OutputFormat.TEXT


def write_report(result: AuditResult, args: argparse.Namespace, env: Environment) -> None:
    """The report to -o or standard output; AuditorError naming where, when it cannot be."""
    chosen = report_format(args, env)
    if chosen is OutputFormat.TABLE and not args.output and env.stdout_isatty:
        _print_table(result, env)
        return
    # Colour only ever goes to a terminal: never into a file or a pipe.
    report = chosen.to_format(RenderOptions(
        color=False, sarif_root=args.sarif_root,
        help_url=args.sarif_help_url))
    where = args.output or "standard output"
    try:
        if args.output:
            write_report_file(Path(args.output), lambda stream: report.write(result, stream))
        else:
            report.write(result, env.stdout)  # JSON and CSV as they are made
            env.stdout.flush()
    except OSError as error:
        raise AuditorError(f"{where}: cannot write report: {error.strerror}") from error


def _print_table(result: AuditResult, env: Environment) -> None:
    from rich.console import Console

    from auditor.report.table import print_table

    colour = env.stdout_colour
    console = Console(file=env.stdout, force_terminal=True, no_color=not colour,
                      color_system="auto" if colour else None, highlight=False)
    print_table(result, console)


def write_report_file(path: Path, text: str | Callable[[TextIO], None]) -> None:
    """Write `text` to `path` as described above; OSError when it cannot be done. `text` may
    be a function that writes the report into the stream it is given, as the report is made."""
    write = text if callable(text) else lambda stream: stream.write(text)
    target = _stat(str(path))
    if target is not None and not stat.S_ISREG(target.st_mode):
        # O_TRUNC as the shell's `>`: devices and FIFOs ignore it, and nothing is created.
        with path.open("w", encoding="utf-8", newline="") as stream:
            write(stream)
        return
    with replacing(path) as temporary, temporary.open("w", encoding="utf-8", newline="") as out:
        write(out)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _same_file(path: str, target: os.stat_result | None, other: str) -> bool:
    if target is not None:
        found = _stat(other)
        if found is not None:
            return (found.st_dev, found.st_ino) == (target.st_dev, target.st_ino)
    return os.path.realpath(path) == os.path.realpath(other)
