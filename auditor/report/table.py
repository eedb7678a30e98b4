"""The terminal report: a rich table of endpoints, violations first, and a summary panel.

Every cell is a ``rich.text.Text`` built through escape.terminal_text, never a markup string, so
data such as ``[green]PASS[/]`` is shown literally and cannot style the output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from io import StringIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditor.model import AuditResult, Finding, ServerEndpoint, Verdict
from auditor.report.escape import clean, terminal_text
from auditor.report.evidence_view import confidence
from auditor.report.interface import ReportFormat
from auditor.report.view import (
    NAME_LIMIT,
    OVERALL_STYLES,
    VERDICT_STYLES,
    attention,
    capture_label,
    capture_lines,
    database_label,
    flags_of,
    listed_findings,
    network_label,
    place_label,
    platform_label,
    plural,
    policy_label,
    reason_label,
    registered_label,
    summary_label,
    verdict_word,
)

HOSTNAME_WIDTH = 24  # longer host names fold in the compact table rather than squeeze the rest
MAX_LISTED = 4  # hostnames or ports shown per cell before "+N more"

WIDE_LAYOUT_WIDTH = 180  # below this many columns, the compact layout stacks related facts

# The terminal table lists at most this many violations and unknowns (and their reasons), and
# counts the rest in a line saying where every one is. rich lays out ~300 rows a second, and the
# whole table is held until it is printed: 11k rows took 33 s and 90 MB, a million servers
# minutes. The text, JSON, CSV and SARIF reports carry every finding.
TABLE_ATTENTION_ROWS = 2_000

COLUMNS: tuple[tuple[str, str], ...] = (
    ("Endpoint", "left"),
    ("Country", "left"),
    ("Registered", "left"),
    ("Flags", "left"),
    ("ASN / org", "left"),
    ("Platform", "left"),
    ("Hostnames", "left"),
    ("Packets", "right"),
    ("Bytes", "right"),
    ("Flows", "right"),
    ("Ports", "left"),
    ("Verdict", "left"),
)
# The same facts in fewer, taller cells: host names under the address, the registered country
# and the flags under the located country. Minimum widths keep every column on screen.
COMPACT_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("Endpoint", "left", 12),
    ("Country", "left", 8),
    ("ASN / org", "left", 10),
    ("Packets", "right", 0),
    ("Bytes", "right", 0),
    ("Flows", "right", 0),
    ("Ports", "left", 8),
    ("Verdict", "left", len(Verdict.VIOLATION.value)),
)
NO_WRAP = frozenset({"Verdict", "Packets", "Bytes", "Flows"})


def _listed(values: tuple[str, ...], separator: str, prefix: str = "") -> Text:
    shown = [clean(v, NAME_LIMIT) for v in values[:MAX_LISTED]]
    if len(values) > MAX_LISTED:
        shown.append(f"+{len(values) - MAX_LISTED} more")
    return Text(prefix + separator.join(shown) if shown else "")


def _labels(endpoint: ServerEndpoint) -> tuple[str, ...]:
    """What the endpoint is, for the stacked layouts: its platform first, then its names."""
    label = platform_label(endpoint)
    platform = (f"platform: {label}",) if label else ()
    return platform + endpoint.hostnames


def _number(value: int) -> Text:
    return Text(f"{value:,}")


def _stacked(first: Text, second: Text, style: str = "dim") -> Text:
    if not second.plain:
        return first
    return Text.assemble(first, "\n", Text(second.plain, style=style))


def _row(finding: Finding) -> list[Text]:
    endpoint, location = finding.endpoint, finding.location
    return [
        terminal_text(endpoint.ip),
        Text(place_label(location)),
        Text(registered_label(location)),
        Text(", ".join(flags_of(finding)), style="yellow"),
        Text(network_label(location)),
        Text(clean(platform_label(endpoint))),
        _listed(endpoint.hostnames, "\n"),
        _number(endpoint.packets),
        _number(endpoint.bytes),
        _number(endpoint.flows),
        _listed(endpoint.ports, ", "),
        _verdict(finding),
    ]


def _verdict(finding: Finding) -> Text:
    """The verdict and, dimmed, how well the evidence supports it (see the README)."""
    verdict = finding.judgement.verdict
    marker = confidence(finding).marker
    text = Text(verdict.value, style=VERDICT_STYLES[verdict])
    return Text.assemble(text, " ", Text(marker, style="dim")) if marker else text


def _compact_place(finding: Finding) -> Text:
    location = finding.location
    if location.is_local:
        return Text(f"({clean(location.address_class or '')})")
    city = clean(location.city, NAME_LIMIT) if location.city else ""
    lines = [", ".join(p for p in (clean(location.country or ""), city) if p)]
    registered = registered_label(location)
    place = Text(lines[0])
    if registered:
        place = _stacked(place, Text(f"registered {registered}"))
    for flag in flags_of(finding):
        place = _stacked(place, Text(flag), style="yellow")
    return place


def _compact_row(finding: Finding) -> list[Text]:
    endpoint, location = finding.endpoint, finding.location
    return [
        # Platform and host names indented, so none reads as an endpoint of its own.
        _stacked(terminal_text(endpoint.ip), _listed(_labels(endpoint), "\n  ", prefix="  ")),
        _compact_place(finding),
        Text(network_label(location)),
        _number(endpoint.packets),
        _number(endpoint.bytes),
        _number(endpoint.flows),
        _listed(endpoint.ports, "\n"),
        _verdict(finding),
    ]


def _table(compact: bool, endpoint_width: int) -> Table:
    table = Table(
        title="Server endpoints",
        box=box.SIMPLE_HEAVY,
        highlight=False,
        padding=(0, 1),
        collapse_padding=compact,
        pad_edge=not compact,
    )
    if not compact:
        for header, justify in COLUMNS:
            no_wrap = header in NO_WRAP or header == "Endpoint"
            table.add_column(header, justify=justify, no_wrap=no_wrap)  # type: ignore[arg-type]
        return table
    for header, justify, minimum in COMPACT_COLUMNS:
        # An address folded over two lines would read as two addresses: keep it whole.
        width = endpoint_width if header == "Endpoint" else minimum
        table.add_column(
            header,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=header in NO_WRAP,
            min_width=width or None,
            overflow="fold",
        )
    return table


def _compact_width(findings: Sequence[Finding]) -> int:
    """Columns the compact table needs at least; narrower consoles get the list layout."""
    numbers = [(f.endpoint.packets, f.endpoint.bytes, f.endpoint.flows) for f in findings]
    widest = [
        max([len(h), *(len(f"{row[i]:,}") for row in numbers)])
        for i, h in enumerate(("Packets", "Bytes", "Flows"))
    ]
    others = sum(m for header, _, m in COMPACT_COLUMNS if header != "Endpoint")
    fixed = others + sum(widest)
    # Two columns between cells, the box's edges, and slack: rich gives a wrapped column no less
    # than its longest word, so the minimums above are not always reached.
    return fixed + _endpoint_width(findings) + 2 * len(COMPACT_COLUMNS) + 8


def _endpoint_width(findings: Sequence[Finding]) -> int:
    """Room for the longest address, and for indented host names up to a point."""
    names = [len(h) + 2 for f in findings for h in f.endpoint.hostnames]
    ips = [len(f.endpoint.ip) for f in findings]
    return max([len("Endpoint"), *ips, min(max(names, default=0), HOSTNAME_WIDTH)])


def endpoint_table(findings: Sequence[Finding], width: int = WIDE_LAYOUT_WIDTH) -> Table:
    """The endpoints in the given order; a compact layout when the console is narrower than 180."""
    compact = width < WIDE_LAYOUT_WIDTH
    table = _table(compact, _endpoint_width(findings))
    for finding in findings:
        table.add_row(*(_compact_row(finding) if compact else _row(finding)))
    return table


def _list_entry(finding: Finding) -> RenderableType:
    endpoint = finding.endpoint
    where = ", ".join(_compact_place(finding).plain.split("\n"))
    network = network_label(finding.location)
    traffic = (
        f"{plural(endpoint.packets, 'packet')}, {plural(endpoint.bytes, 'byte')}, "
        f"{plural(endpoint.flows, 'flow')}; ports {', '.join(clean(p) for p in endpoint.ports)}"
    )
    details = [Text("  ".join(p for p in (where, network) if p))] if where or network else []
    details.append(Text(traffic))
    details.extend(Text(clean(h, NAME_LIMIT), style="dim") for h in _labels(endpoint))
    head = Text.assemble(terminal_text(endpoint.ip, "bold"), "  ", _verdict(finding))
    # Padding keeps wrapped detail lines indented under their address.
    return Group(head, Padding(Text("\n").join(details), (0, 0, 0, 2)))


def _not_listed(left: Sequence[Finding], what: str, where: str) -> list[Text]:
    """The line that says what the table leaves out, by verdict, and where all of it is."""
    if not left:
        return []
    counts = Counter(f.judgement.verdict.value for f in left)
    by_verdict = ", ".join(f"{n:,} {verdict}" for verdict, n in counts.items())
    return [Text(f"... and {len(left):,} more {what} not shown here ({by_verdict}): every one "
                 f"is in {where}", style="italic")]


def table_findings(result: AuditResult) -> tuple[list[Finding], list[Text]]:
    """The rows the table lists, and the lines that count those it does not: allowed and local
    endpoints past a few hundred rows, violations and unknowns past TABLE_ATTENTION_ROWS."""
    findings, more = listed_findings(result)
    rest = [Text(more, style="italic")] if more else []
    needing = sum(1 for f in findings[:TABLE_ATTENTION_ROWS + 1] if _needs_reader(f))
    if needing <= TABLE_ATTENTION_ROWS:
        return findings, rest
    shown = findings[:TABLE_ATTENTION_ROWS]
    # listed_findings puts every violation and unknown first: the rest start here.
    left = [f for f in findings[TABLE_ATTENTION_ROWS:] if _needs_reader(f)]
    where = "--format text, json, csv or sarif"
    return shown, [*_not_listed(left, "violations and unknowns", where), *rest]


def _needs_reader(finding: Finding) -> bool:
    return finding.judgement.verdict in (Verdict.VIOLATION, Verdict.UNKNOWN)


def endpoint_view(result: AuditResult, width: int) -> RenderableType:
    """The table, or for a console too narrow for any table, one block of lines per endpoint;
    past a few hundred rows, allowed and local endpoints are counted instead of listed, and
    past TABLE_ATTENTION_ROWS so are violations and unknowns."""
    findings, rest = table_findings(result)
    if width >= WIDE_LAYOUT_WIDTH or width >= _compact_width(findings):
        return Group(endpoint_table(findings, width), *rest)
    entries = [_list_entry(f) for f in findings]
    return Group(Text("Server endpoints", style="italic"), *entries, *rest)


def _section(title: str, lines: list[Text]) -> list[Text]:
    if not lines:
        return []
    return [Text(title, style="bold"), *[Text.assemble("  ", line) for line in lines]]


def _capture_lines(result: AuditResult) -> list[Text]:
    lines = []
    for entry in capture_lines(result):
        style = "" if entry.capture.complete else "yellow"
        lines.append(Text(capture_label(entry.capture), style=style))
        if entry.summary:
            lines.append(Text.assemble("  ", (entry.summary, OVERALL_STYLES[entry.verdict])))
        lines.extend(Text(f"  {line}") for line in entry.endpoints)
        lines.extend(Text(f"  {w}", style="yellow") for w in entry.warnings)
    lines.extend(Text(f"error: {clean(e)}", style="red") for e in result.errors)
    return lines


def _reason_lines(result: AuditResult) -> list[Text]:
    needing = attention(result)
    lines = [
        Text.assemble(
            (f"{clean(f.endpoint.ip)} ", "bold"),
            (f.judgement.verdict.value, VERDICT_STYLES[f.judgement.verdict]),
            f": {reason_label(f)}",
        )
        for f in needing[:TABLE_ATTENTION_ROWS]
    ]
    left = needing[TABLE_ATTENTION_ROWS:]
    return lines + _not_listed(left, "reasons", "--format text, json, csv or sarif")


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
    console.print(endpoint_view(result, console.width))
    console.print(summary_panel(result))


class TableFormat(ReportFormat):
    """The rich table rendered to text; ANSI styles when options.color is true."""

    name = "table"

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
