"""Report formats behind one interface, chosen by name through OutputFormat.

A format's module is imported only when that format is chosen: a JSON run never loads rich,
xml.etree or the HTML map (start-up time is paid on every run of a scheduled job).
"""

from __future__ import annotations

import importlib
from enum import StrEnum

from auditor.report.interface import RenderOptions, ReportFormat


class OutputFormat(StrEnum):
    """The --format choices."""

    TABLE = "table"
    TEXT = "text"
    JSON = "json"
    CSV = "csv"
    JUNIT = "junit"
    SARIF = "sarif"
    HTML = "html"
    MARKDOWN = "markdown"

    def to_format(self, options: RenderOptions | None = None) -> ReportFormat:
        module, name = _FORMATS[self]
        implementation: type[ReportFormat] = getattr(importlib.import_module(module), name)
        return implementation(options)

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The -o file suffixes that choose this format when --format is not given."""
        return _SUFFIXES.get(self, ())

    @classmethod
    def for_suffix(cls, suffix: str) -> OutputFormat | None:
        """The format an -o file's suffix (".sarif") names, if any: the user's intent."""
        for chosen in cls:
            if suffix.lower() in chosen.suffixes:
                return chosen
        return None


# (module, class) of each format.
_FORMATS: dict[OutputFormat, tuple[str, str]] = {
    OutputFormat.TABLE: ("auditor.report.table", "TableFormat"),
    OutputFormat.TEXT: ("auditor.report.text", "TextFormat"),
    OutputFormat.JSON: ("auditor.report.json_format", "JsonFormat"),
    OutputFormat.CSV: ("auditor.report.csv_format", "CsvFormat"),
    OutputFormat.JUNIT: ("auditor.report.junit", "JunitFormat"),
    OutputFormat.SARIF: ("auditor.report.sarif", "SarifFormat"),
    OutputFormat.HTML: ("auditor.report.html", "HtmlFormat"),
    OutputFormat.MARKDOWN: ("auditor.report.markdown", "MarkdownFormat"),
}

_SUFFIXES: dict[OutputFormat, tuple[str, ...]] = {
    OutputFormat.TEXT: (".txt",),
    OutputFormat.JSON: (".json",),
    OutputFormat.CSV: (".csv",),
    OutputFormat.JUNIT: (".xml",),
    OutputFormat.SARIF: (".sarif",),
    OutputFormat.HTML: (".html", ".htm"),
    OutputFormat.MARKDOWN: (".md", ".markdown"),
}


def get_format(name: str | OutputFormat, options: RenderOptions | None = None) -> ReportFormat:
    """The format object for a --format name (case-insensitive); ValueError names the choices."""
    try:
        chosen = OutputFormat(str(name).strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"unknown report format {name!r} (choose from {choices})") from None
    return chosen.to_format(options)


__all__ = ["OutputFormat", "RenderOptions", "ReportFormat", "get_format"]
