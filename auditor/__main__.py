"""`python -m auditor` and the `audit` console script: the only place that exits.

Interrupt-safe from its first line: until the command line has installed its own handlers
(after the heavy imports), SIGINT and SIGTERM end the process with one line and 130/143, never a
KeyboardInterrupt traceback from inside an import. Nothing has been written yet at that point,
so there is nothing to clean up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


def _stop_early(signum: int, _frame: FrameType | None) -> None:
    with contextlib.suppress(OSError):  # standard error closed: the status still tells
        os.write(2, f"audit: error: {_WORDS[signal.Signals(signum)]}; no report written\n"
                 .encode())
    os._exit(128 + signum)


def _interrupt_safe() -> None:
    for signum in _WORDS:
        # A signal the caller ignores (a background job of a script, nohup) stays ignored.
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _stop_early)


def _guard_standard_descriptors() -> None:
    """Put /dev/null on standard descriptors the caller closed (`>&-`).

    Python then gives sys.stdout = None, which the CLI treats as closed; without this, the next
    file opened (a report's temporary file) would take descriptor 1, and anything written to
    standard output, by us or a library, would land inside the report.
    """
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != descriptor:  # a lower one was free too: it is guarded in turn
                os.dup2(opened, descriptor)
                os.close(opened)


def _announce_ready() -> None:
    # For tests of signal handling, which wait for this instead of sleeping: the descriptor of
    # a pipe, named by the test, gets one line once signals are handled.
    descriptor = os.environ.get("AUDITOR_READY_FD", "")
    if descriptor.isdigit():
        with contextlib.suppress(OSError):
            os.write(int(descriptor), b"ready\n")
            os.close(int(descriptor))


def run() -> None:
    _interrupt_safe()
    _guard_standard_descriptors()
    _announce_ready()
    from auditor.cli import main

    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
