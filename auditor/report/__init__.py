"""Report formats behind one interface, chosen by name through OutputFormat."""

from __future__ import annotations

from enum import StrEnum

from auditor.report.csv_format import CsvFormat
from auditor.report.html import HtmlFormat
from auditor.report.interface import RenderOptions, ReportFormat
from auditor.report.json_format import JsonFormat
from auditor.report.junit import JunitFormat
from auditor.report.markdown import MarkdownFormat
from auditor.report.sarif import SarifFormat
from auditor.report.table import TableFormat, print_table
from auditor.report.text import TextFormat


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
        return _FORMATS[self](options)

    @classmethod
    def for_suffix(cls, suffix: str) -> OutputFormat | None:
        """The format an -o file's suffix (".sarif") names, if any: the user's intent."""
        for chosen, implementation in _FORMATS.items():
            if suffix.lower() in implementation.suffixes:
                return chosen
        return None


_FORMATS: dict[OutputFormat, type[ReportFormat]] = {
    OutputFormat.TABLE: TableFormat,
    OutputFormat.TEXT: TextFormat,
    OutputFormat.JSON: JsonFormat,
    OutputFormat.CSV: CsvFormat,
    OutputFormat.JUNIT: JunitFormat,
    OutputFormat.SARIF: SarifFormat,
    OutputFormat.HTML: HtmlFormat,
    OutputFormat.MARKDOWN: MarkdownFormat,
}


def get_format(name: str | OutputFormat, options: RenderOptions | None = None) -> ReportFormat:
    """The format object for a --format name (case-insensitive); ValueError names the choices."""
    try:
        chosen = OutputFormat(str(name).strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"unknown report format {name!r} (choose from {choices})") from None
    return chosen.to_format(options)


__all__ = ["OutputFormat", "RenderOptions", "ReportFormat", "get_format", "print_table"]
