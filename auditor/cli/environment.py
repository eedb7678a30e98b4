"""The streams and terminal facts a command works with, and its one error and warning writer.

Tests swap the Environment to capture output and pretend to be a terminal (httpie's context.py).
"""

from __future__ import annotations

import errno
import io
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO


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
    program: str = "audit"  # how messages start: "audit", "audit db"...

    @property
    def colour_allowed(self) -> bool:
        # bandit's and the no-color.org convention: never with NO_COLOR set (to anything) or on
        # a dumb terminal. Colour only ever goes to a TTY: see stdout_colour.
        return "NO_COLOR" not in self.env and self.env.get("TERM") != "dumb"

    @property
    def stdout_colour(self) -> bool:
        """Whether what goes to standard output may carry ANSI colour."""
        return self.stdout_isatty and self.colour_allowed

    @property
    def stderr_colour(self) -> bool:
        return self.stderr_isatty and self.colour_allowed

    def for_program(self, program: str) -> Environment:
        """The same streams, for a subcommand whose messages start with its own name."""
        return Environment(self.stdout, self.stderr, self.env, self.stdout_isatty,
                           self.stderr_isatty, self.now, program)

    def error(self, message: str) -> None:
        """One line on stderr; the message is data (a path, a name from a capture): escaped."""
        self._say("error", message)
        self.stderr.flush()

    def warning(self, message: str) -> None:
        self._say("warning", message)

    def _say(self, kind: str, message: str) -> None:
        # Imported here: this module stays free of the report package, which imports the model,
        # which imports cli.status (and so this package).
        from auditor.report.escape import sanitize_text

        self.stderr.write(f"{self.program}: {kind}: {sanitize_text(message)}\n")
