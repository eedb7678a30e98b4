"""Where a report file goes: a regular file is replaced atomically, a device or FIFO written into.

`-o` must behave as a careful shell redirection would. A regular file (or the file a symlink
points at) is replaced whole, so a reader never sees half a report, keeping the mode the file
had or, for a new file, the mode the umask allows. A character device or a FIFO (/dev/null,
/dev/stdout, a named pipe) is written into and never replaced: replacing /dev/null as root would
turn it into a regular file. A path that is also an input of the run is refused before anything
is read, so an audit never overwrites its own evidence.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from auditor.atomic import replacing
from auditor.errors import UsageError


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


def write_report_file(path: Path, text: str) -> None:
    """Write `text` to `path` as described above; OSError when it cannot be done."""
    target = _stat(str(path))
    if target is not None and not stat.S_ISREG(target.st_mode):
        # O_TRUNC as the shell's `>`: devices and FIFOs ignore it, and nothing is created.
        with path.open("w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        return
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="")


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
