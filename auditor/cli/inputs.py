"""The capture arguments as a scheduled job gives them: files, folders of a day's captures and
glob patterns (quoted, so the auditor expands them and a pattern matching nothing is an
error, not a literal file name)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

from auditor.errors import UsageError

_MAGIC = frozenset("*?[")


def expand_inputs(arguments: Iterable[str]) -> list[str]:
    """Each argument as the inputs it names, in order (a file given twice is read twice, as
    before): a folder is the files directly in it (sorted, hidden ones left out) unless it is
    a Zeek log folder, which is one input; a pattern that names no existing path is expanded,
    sorted."""
    return [path for argument in arguments for path in _expand(argument)]


def _expand(argument: str) -> list[str]:
    if argument == "-" or os.path.exists(argument):
        return _folder(argument) if os.path.isdir(argument) else [argument]
    if _MAGIC & set(argument):
        matches = sorted(glob.glob(argument))
        if not matches:
            raise UsageError(f"{argument}: no file matches this pattern")
        return [path for match in matches for path in
                (_folder(match) if os.path.isdir(match) else [match])]
    return [argument]  # missing: the reader says so, naming it


def _folder(path: str) -> list[str]:
    from auditor.sources.zeek import is_log_folder  # only a folder needs Zeek's reader

    try:
        names = sorted(os.listdir(path))
    except OSError as error:
        raise UsageError(f"{path}: cannot list folder: {error.strerror}") from error
    if is_log_folder(names):
        return [path]
    files = [os.path.join(path, name) for name in names
             if not name.startswith(".") and os.path.isfile(os.path.join(path, name))]
    if not files:
        raise UsageError(f"{path}: a folder with no file to audit")
    return files
