"""Every failure of a command as one line and an exit status; SIGINT and SIGTERM as exceptions.

Expected errors (AuditorError) are one line naming the file; a bug of ours is one line too, with
the traceback on --debug (httpie's and bandit's convention). Signals unwind through the
`finally`s that remove temporary files, then give 130 or 143.
"""

from __future__ import annotations

import contextlib
import signal
import traceback
from collections.abc import Callable, Iterator
from types import FrameType

from auditor.cli.environment import Environment
from auditor.cli.status import ExitStatus
from auditor.errors import AuditorError


class TerminatedError(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, leaving no partial output behind.

    A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` on the way (the
    capture reader turns its own bugs into CaptureError) can swallow it and go on auditing.
    """


def guarded(
    env: Environment,
    command: Callable[[], int],
    *,
    debug: bool = False,
    on_error: Callable[[AuditorError], None] | None = None,
    aftermath: str = "; no report written",
) -> int:
    """Run `command` with signals as exceptions; every way it can fail becomes a status."""
    with signals_as_exceptions():
        try:
            return command()
        except KeyboardInterrupt:
            env.error(f"interrupted{aftermath}")
            return ExitStatus.SIGINT
        except TerminatedError:
            env.error(f"terminated{aftermath}")
            return ExitStatus.SIGTERM
        except AuditorError as error:
            if debug:
                traceback.print_exc(file=env.stderr)
            env.error(str(error))
            if on_error is not None:
                on_error(error)
            return ExitStatus.ERROR
        except Exception as error:  # a bug of ours: still one line, the traceback on request
            if debug:
                traceback.print_exc(file=env.stderr)
            env.error(f"internal error: {type(error).__name__}: {error} (--debug shows more)")
            return ExitStatus.ERROR


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """SIGINT as KeyboardInterrupt and SIGTERM as TerminatedError while a command runs.

    `python -m auditor` ends the process directly on either signal until this point (see
    __main__), so that one arriving during the imports gives no traceback either.
    """

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise TerminatedError

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
