"""The terminal report: a rich table of endpoints, violations first, and a summary panel.

Every cell is a ``rich.text.Text`` built through escape.terminal_text, never a markup string, so
data such as ``[green]PASS[/]`` is shown literally and cannot style the output.
"""

from __future__ import annotations

from io import StringIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditor.model import AuditResult, Finding
from auditor.report.escape import clean, terminal_text
from auditor.report.interface import ReportFormat
from auditor.report.view import (
    NAME_LIMIT,
    OVERALL_STYLES,
    VERDICT_STYLES,
    attention,
    capture_label,
    database_label,
    flags_of,
    network_label,
    place_label,
    policy_label,
    registered_label,
    sorted_findings,
    summary_label,
    verdict_word,
)

MAX_LISTED = 4  # hostnames or ports shown per cell before "+N more"

COLUMNS: tuple[tuple[str, str], ...] = (
    ("Endpoint", "left"),
    ("Country", "left"),
    ("Registered", "left"),
    ("Flags", "left"),
    ("ASN / org", "left"),
    ("Hostnames", "left"),
    ("Packets", "right"),
    ("Bytes", "right"),
    ("Flows", "right"),
    ("Ports", "left"),
    ("Verdict", "left"),
)


def _listed(values: tuple[str, ...], separator: str) -> Text:
    shown = [clean(v, NAME_LIMIT) for v in values[:MAX_LISTED]]
    if len(values) > MAX_LISTED:
        shown.append(f"+{len(values) - MAX_LISTED} more")
    return Text(separator.join(shown))


def _number(value: int) -> Text:
    return Text(f"{value:,}")


def _row(finding: Finding) -> list[Text]:
    endpoint, location, verdict = finding.endpoint, finding.location, finding.judgement.verdict
    return [
        terminal_text(endpoint.ip),
        Text(place_label(location)),
        Text(registered_label(location)),
        Text(", ".join(flags_of(finding)), style="yellow"),
        Text(network_label(location)),
        _listed(endpoint.hostnames, "\n"),
        _number(endpoint.packets),
        _number(endpoint.bytes),
        _number(endpoint.flows),
        _listed(endpoint.ports, ", "),
        Text(verdict.value, style=VERDICT_STYLES[verdict]),
    ]


def endpoint_table(result: AuditResult) -> Table:
    table = Table(title="Server endpoints", box=box.SIMPLE_HEAVY, highlight=False)
    for header, justify in COLUMNS:
        no_wrap = justify == "right" or header in ("Endpoint", "Verdict")
        table.add_column(header, justify=justify, no_wrap=no_wrap)  # type: ignore[arg-type]
    for finding in sorted_findings(result.findings):
        table.add_row(*_row(finding))
    return table


def _section(title: str, lines: list[Text]) -> list[Text]:
    if not lines:
        return []
    return [Text(title, style="bold"), *[Text.assemble("  ", line) for line in lines]]


def _capture_lines(result: AuditResult) -> list[Text]:
    lines = []
    for capture in result.captures:
        style = "" if capture.complete else "yellow"
        lines.append(Text(capture_label(capture), style=style))
        lines.extend(Text(f"  warning: {clean(w)}", style="yellow") for w in capture.warnings)
    lines.extend(Text(f"error: {clean(e)}", style="red") for e in result.errors)
    return lines


def _reason_lines(result: AuditResult) -> list[Text]:
    return [
        Text.assemble(
            (f"{clean(f.endpoint.ip)} ", "bold"),
            (f.judgement.verdict.value, VERDICT_STYLES[f.judgement.verdict]),
            f": {clean(f.judgement.reason)}",
        )
        for f in attention(result)
    ]


def summary_panel(result: AuditResult) -> Panel:
    """Verdict, counts, policy, captures (with their warnings), databases and attribution."""
    headline = Text.assemble(
        (verdict_word(result), OVERALL_STYLES[result.verdict]), "  ", summary_label(result)
    )
    parts: list[RenderableType] = [
        headline,
        Text(f"policy: {policy_label(result.policy)}"),
        *_section("why", _reason_lines(result)),
        *_section("captures", _capture_lines(result)),
        *_section("databases", [Text(database_label(d)) for d in result.databases]),
        *_section("strict failures", [Text(clean(s), style="red") for s in result.strict_failures]),
        *_section("warnings", [Text(clean(w), style="yellow") for w in result.warnings]),
    ]
    border = OVERALL_STYLES[result.verdict].replace("bold ", "")
    return Panel(Group(*parts), title="Audit verdict", border_style=border, expand=True)


def print_table(result: AuditResult, console: Console) -> None:
    """The table and the summary panel, on the console the caller chose (its TTY, its colours)."""
    console.print(endpoint_table(result))
    console.print(summary_panel(result))


class TableFormat(ReportFormat):
    """The rich table rendered to text; ANSI styles when options.color is true."""

    name = "table"
    extension = "txt"
    media_type = "text/plain"

    @property
    def is_manifest(self) -> bool:
        return True

    def console(self, file: StringIO) -> Console:
        # An empty environment: NO_COLOR, COLUMNS or TERM of the caller must not change the text
        # rendered here; the CLI decides colour and width and passes them in the options.
        return Console(
            file=file,
            force_terminal=self.options.color,
            no_color=not self.options.color,
            color_system="standard" if self.options.color else None,
            width=self.options.width,
            highlight=False,
            markup=False,
            emoji=False,
            legacy_windows=False,
            _environ={},
        )

    def render(self, result: AuditResult) -> str:
        buffer = StringIO()
        print_table(result, self.console(buffer))
        return buffer.getvalue()
