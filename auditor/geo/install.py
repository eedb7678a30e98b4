"""Installing a downloaded database: a staged partial file, its checks, one atomic rename.

Shared by the MaxMind and DB-IP downloads of `audit db update`. The partial file is made before
anything is downloaded and removed on any way out (an error, SIGINT, SIGTERM as an exception),
so a failed or interrupted update leaves the folder as it was.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import maxminddb

from auditor.errors import DatabaseError
from auditor.geo.metadata import check_metadata

INSTALL_MODE = 0o644  # databases are read by every user who audits, whatever the umask


@dataclass(frozen=True, slots=True)
class UpdateResult:
    edition_id: str
    path: str
    updated: bool  # False: what is installed is already current
    digest: str  # MD5 for MaxMind (what it publishes), SHA-256 of DB-IP files
    date: str


def prepare_directory(directory: str) -> None:
    """The database folder exists and is a folder (created when missing), or DatabaseError."""
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise DatabaseError(directory, "is not a directory; --dir names the database folder")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(directory, f"cannot create the folder: {os_reason(exc)}") from exc


def check_target(target: str) -> None:
    """Before downloading: what is at ``target`` can be replaced by a database file."""
    if os.path.isdir(target):
        raise DatabaseError(target, "is a directory; a database file cannot replace it")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise DatabaseError(target, "is not a regular file; a database file cannot replace it")


def last_modified(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None


@contextlib.contextmanager
def staged(target: str) -> Iterator[tuple[str, IO[bytes]]]:
    """A hidden ``.partial`` file beside ``target``, removed unless it was installed.

    Made before anything is downloaded, so that an interrupt at any later point (SIGINT,
    SIGTERM turned into an exception) finds it here and removes it.
    """
    directory = os.path.dirname(target) or "."
    name = os.path.basename(target)
    try:
        handle, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
    except OSError as exc:
        raise DatabaseError(target, f"cannot write in {directory}: {os_reason(exc)}") from exc
    try:
        with os.fdopen(handle, "wb") as output:
            os.fchmod(output.fileno(), _install_mode(target))
            yield partial, output
    except OSError as exc:
        raise DatabaseError(target, f"cannot write the database: {os_reason(exc)}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def _install_mode(target: str) -> int:
    """The replaced file's permissions, or 0644 for a new one: never mkstemp's 0600."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return INSTALL_MODE


def seal(output: IO[bytes]) -> None:
    """Everything written is on disk before the file is checked and renamed into place."""
    output.flush()
    os.fsync(output.fileno())


def install(partial: str, target: str, modified: float | None) -> None:
    """Rename the sealed, verified partial file over the target in one step."""
    if modified is not None:
        os.utime(partial, (modified, modified))
    os.replace(partial, target)


def too_large(target: str, limit: int) -> DatabaseError:
    return DatabaseError(
        target, f"the downloaded database unpacks to more than {limit >> 20} MiB, more than any "
        "real one; refused"
    )


def check_database(partial: str, target: str, expected_type: str) -> str:
    """The file opens as an mmdb whose type names ``expected_type``; returns that type."""
    # Any edition may be kept up to date, so this checks the file, not that it is a location
    # layout: the audit's own open reports a layout it cannot use.
    try:
        with maxminddb.open_database(partial, maxminddb.MODE_AUTO) as reader:
            metadata = reader.metadata()
            check_metadata(target, metadata, os.path.getsize(partial))
            database_type = str(metadata.database_type)
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(target, f"downloaded {expected_type} is not a valid database") from exc
    if expected_type not in database_type:
        raise DatabaseError(target, f"downloaded {expected_type} is a {database_type!r} database")
    return database_type


def os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
