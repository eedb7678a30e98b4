"""Zeek's log writer formats: the ASCII/TSV header (separators, unset and empty markers, field
names) and JSON rows, read as field name -> value mappings, and the values in them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from auditor.errors import CaptureError
from auditor.sources.flows import FlowBuilder, address
from auditor.sources.lines import TextSource

Row = Mapping[str, object]
Progress = Callable[[int, int], None]
_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


class Log:
    """What reading one log file showed about the file itself."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.complete = True
        self.compressed = False


def rows(
    path: str, builder: FlowBuilder, progress: Progress | None, log: Log | None = None
) -> Iterator[Row]:
    """The rows of one log, TSV or JSON, each as a field name -> value mapping."""
    log = log or Log(path)
    fields: tuple[str, ...] | None = None
    header = _TsvHeader()
    try:
        source = TextSource(path, progress)
    except OSError as error:
        raise CaptureError(path, f"cannot read: {error.strerror or error}") from error
    with source:
        log.compressed = source.compressed
        for line in source.lines():
            if line.text is None:
                builder.skip("overlong line")
                builder.warnings.append(f"{path}: a line over 1 MiB at offset {line.offset}")
                continue
            if line.text.startswith(b"#"):
                fields = header.take(line.text) or fields
                continue
            if not line.text.strip():
                continue
            builder.records += 1
            row = header.row(line.text, fields) if fields is not None else json_row(line.text)
            if row is None:
                builder.skip("malformed log line")
                continue
            yield row
        if source.damage is not None:
            log.complete = False
            builder.warnings.append(f"{path}: {source.damage}")


class _TsvHeader:
    """The ASCII writer's header: separators, unset/empty markers and the field names."""

    def __init__(self) -> None:
        self.separator = b"\t"
        self.set_separator = b","
        self.unset = b"-"
        self.empty = b"(empty)"

    def take(self, text: bytes) -> tuple[str, ...] | None:
        if text.startswith(b"#separator "):
            self.separator = _unescape(text[len(b"#separator ") :]) or b"\t"
            return None
        key, _, value = text[1:].partition(self.separator)
        if key == b"set_separator":
            self.set_separator = _unescape(value) or b","
        elif key == b"unset_field":
            self.unset = value
        elif key == b"empty_field":
            self.empty = value
        elif key == b"fields":
            return tuple(f.decode("utf-8", "replace") for f in value.split(self.separator))
        return None

    def row(self, text: bytes, fields: tuple[str, ...]) -> Row | None:
        values = text.split(self.separator)
        if len(values) != len(fields):
            return None
        row: dict[str, object] = {}
        for name, value in zip(fields, values, strict=True):
            if value == self.unset:
                continue
            if value == self.empty:
                row[name] = ""
            elif name in ("answers", "TTLs", "tunnel_parents"):
                row[name] = [_text(v) for v in value.split(self.set_separator)]
            else:
                row[name] = _text(value)
        return row


def _unescape(value: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), value)


def _text(value: bytes) -> str:
    # Zeek writes odd bytes as \xNN; they are data, decoded as Latin-1 so that no byte is lost
    # and every one is escaped again by the report.
    if b"\\x" not in value:
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            pass
    raw = _unescape(value)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def json_row(text: bytes) -> Row | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    row: dict[str, object] = {}
    for key, item in value.items():
        # Zeek writes "id.orig_h"; some shippers nest it as {"id": {"orig_h": ...}}.
        if isinstance(item, dict) and key == "id":
            for inner, inner_item in item.items():
                row[f"id.{inner}"] = inner_item
        else:
            row[key] = item
    return row


def row_address(row: Row, key: str) -> str | None:
    value = row.get(key)
    return address(value) if isinstance(value, str) else None


def count(row: Row, key: str) -> int:
    value = row.get(key)
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return 0


def number(row: Row, key: str) -> float:
    """A time or interval; NaN when unset or unreadable (btest baselines mask their times)."""
    value = row.get(key)
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 32:
        number = seconds(value)
    else:
        return math.nan
    return number if math.isfinite(number) else math.nan


def seconds(text: str) -> float:
    """Zeek's epoch seconds, or an ISO 8601 time (JSON logs with TS_ISO8601)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return math.nan
