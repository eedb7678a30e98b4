"""Replacing a file whole: written beside it under a temporary name, renamed over it at the end.

A reader (or a later audit) never sees half a file, and a run that fails or is interrupted leaves
the previous file exactly as it was, with no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path to write; it replaces `path` (a symlink's target) when the block ends
    without an exception, with the mode `path` had, or the umask's for a new file."""
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(mode)
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _umask() -> int:
    # The only portable way to read the umask is to set it; the CLI is one thread here.
    current = os.umask(0o022)
    os.umask(current)
    return current
