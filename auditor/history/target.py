"""What a --history value names: a JSON-lines export, a SQLite file, or a PostgreSQL URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class HistoryKind(StrEnum):
    JSON_LINES = "jsonl"
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True, slots=True)
class HistoryTarget:
    kind: HistoryKind
    location: str  # a file path, or the URL with the psycopg 3 driver named
    label: str  # for messages: the path, or the URL without its password


def parse_target(value: str) -> HistoryTarget:
    """Reads ``--history``: any URL but PostgreSQL's and sqlite's is refused, not guessed at."""
    from auditor.errors import HistoryError

    match = _URL.match(value)
    if match is None:
        kind = (
            HistoryKind.JSON_LINES
            if value.lower().endswith(JSON_LINES_SUFFIXES)
            else HistoryKind.SQLITE
        )
        return HistoryTarget(kind, value, value)
    scheme = match["scheme"].lower()
    rest = value[match.end():]
    if scheme in _POSTGRES_SCHEMES:
        url = f"postgresql+psycopg://{rest}"
        return HistoryTarget(HistoryKind.POSTGRESQL, url, _without_password(value))
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return HistoryTarget(HistoryKind.SQLITE, rest[1:], rest[1:])
    raise HistoryError(
        f"--history {_without_password(value)}: not a history; give a file (auditor.db), "
        "a .jsonl file, or a postgresql:// URL"
    )


def _without_password(url: str) -> str:
    return re.sub(r"^([^:/]+://[^:@/]*):[^@/]*@", r"\1:***@", url)


def looks_like_sqlite(path: Path) -> bool | None:
    """True for a SQLite file, False for a file that is something else, None when absent/empty."""
    try:
        with path.open("rb") as stream:
            head = stream.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return None
    except OSError:
        return None  # unreadable: sqlite will say why, with the path
    if not head:
        return None
    return head == _SQLITE_MAGIC
