"""The interface every report format implements, and the options they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TextIO

from auditor import __version__
from auditor.model import AuditResult


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What a format may need besides the result; fixed values make output reproducible."""

    width: int = 100  # terminal columns for the table
    color: bool = True  # the table emits ANSI styles (force_terminal) when true
    generated_at: datetime | None = None  # None: the time of rendering
    tool_version: str = __version__
    # SARIF: capture paths are written relative to this folder (--sarif-root, the repository
    # checkout), and rule help links start with this URL (--sarif-help-url).
    sarif_root: str | None = None
    help_url: str | None = None


class ReportFormat(ABC):
    """One output format: turns an AuditResult into the text of a report."""

    name: ClassVar[str]  # its OutputFormat; the -o suffixes that choose it are listed there

    def __init__(self, options: RenderOptions | None = None) -> None:
        self.options = options or RenderOptions()

    @abstractmethod
    def render(self, result: AuditResult) -> str:
        """The whole report as text, ending with a newline."""

    def write(self, result: AuditResult, stream: TextIO) -> None:
        """Write the report to ``stream``. Formats whose size grows with the endpoints (JSON,
        CSV) override this to write as they go, so a million endpoints are never one string."""
        stream.write(self.render(result))
