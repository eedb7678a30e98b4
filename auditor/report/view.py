"""Presentation helpers shared by the formats: ordering, labels, dates; all output is cleaned."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter

from auditor.countries import country_name
from auditor.model import (
    AcceptedBy,
    AttributionBasis,
    AuditResult,
    CaptureSummary,
    DatabaseInfo,
    Finding,
    Location,
    LocationFlag,
    OverallVerdict,
    Policy,
    ServerEndpoint,
    Verdict,
)
from auditor.report.escape import clean
from auditor.report.interface import RenderOptions
from auditor.report.times import iso_time

# Violations first: the reader's eye lands on what failed the audit.
VERDICT_ORDER = {Verdict.VIOLATION: 0, Verdict.UNKNOWN: 1, Verdict.ALLOWED: 2, Verdict.LOCAL: 3}
VERDICT_STYLES = {
    Verdict.VIOLATION: "bold red",
    Verdict.UNKNOWN: "yellow",
    Verdict.ALLOWED: "green",
    Verdict.LOCAL: "dim",
}
OVERALL_STYLES = {
    OverallVerdict.PASS: "bold green",
    OverallVerdict.FAIL: "bold red",
    OverallVerdict.INCOMPLETE: "bold yellow",
}
NAME_LIMIT = 80  # longer org, city or host names are cut in tables: data must not flood the screen


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Violations, unknown, allowed, local; within each, most bytes first, then by address.

    Sorted by address, then by bytes reversed (stable: equal bytes keep address order), on C
    key functions, then taken out per verdict in one pass: a tuple key per finding, made in
    Python, cost a million endpoints seconds."""
    ordered = sorted(findings, key=_ADDRESS)
    ordered.sort(key=_BYTES, reverse=True)
    groups: dict[Verdict, list[Finding]] = {verdict: [] for verdict in VERDICT_ORDER}
    for finding in ordered:
        groups[finding.judgement.verdict].append(finding)
    return [finding for verdict in VERDICT_ORDER for finding in groups[verdict]]


_ADDRESS = attrgetter("endpoint.ip")
_BYTES = attrgetter("endpoint.bytes")


def country_label(code: str | None) -> str:
    if not code:
        return ""
    name = country_name(code)
    return clean(f"{code} {name}" if name else code, NAME_LIMIT)


def place_label(location: Location) -> str:
    """Country code and name, and the city when known: "DE Germany, Frankfurt am Main"."""
    if location.address_class:
        return f"({clean(location.address_class)})"
    label = country_label(location.country)
    if location.city:
        label = f"{label}, {clean(location.city, NAME_LIMIT)}" if label else clean(location.city)
    return label


def registered_label(location: Location) -> str:
    """The registered country, only when it differs from the located one."""
    registered = location.registered_country
    if not registered or registered == location.country:
        return ""
    return clean(registered)


def network_label(location: Location) -> str:
    parts = [f"AS{location.asn}" if location.asn is not None else "", location.org or ""]
    return clean(" ".join(p for p in parts if p), NAME_LIMIT)


def flags_of(finding: Finding) -> tuple[str, ...]:
    """The location's flags, with anycast added when only the boolean says so."""
    return location_flags(finding.location)


def location_flags(location: Location) -> tuple[str, ...]:
    """flags_of, from the location alone."""
    flags = list(location.flags)
    if location.is_anycast and LocationFlag.ANYCAST not in flags:
        flags.insert(0, LocationFlag.ANYCAST)
    return tuple(flag.value for flag in flags)


def build_date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def generated_at(options: RenderOptions) -> str:
    moment = options.generated_at or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def roles_label(endpoint: ServerEndpoint) -> str:
    """'media (rtp), stun (stun message)': what the endpoint did and what showed it."""
    return ", ".join(f"{claim.role.value} ({claim.evidence})" for claim in endpoint.roles)


def platform_label(endpoint: ServerEndpoint) -> str:
    """'Zoom (range) as media, stun': the platform, what it rested on and the endpoint's roles;
    not yet escaped (the platform may come from a capture's name)."""
    label = endpoint.platform or ""
    # A port hint's platform already reads "Zoom? (port hint)": its basis would say it twice.
    if label and endpoint.platform_basis not in (None, AttributionBasis.PORT_HINT):
        label += f" ({endpoint.platform_basis.value})"
    roles = ", ".join(dict.fromkeys(claim.role.value for claim in endpoint.roles))
    if roles:
        label += f" as {roles}" if label else roles
    return label


def policy_label(policy: Policy) -> str:
    """'allow US, EU; deny CN; judged by location; strict'."""
    parts = [f"allow {', '.join(policy.allow_spec) or 'all countries not denied'}"]
    parts.extend(f"{rule.role.value} in {', '.join(rule.allow_spec)}" for rule in policy.roles)
    if policy.deny_spec:
        parts.append(f"deny {', '.join(policy.deny_spec)}")
    parts.append(f"judged by {policy.judge_by.value}")
    if policy.strict:
        parts.append("strict")
    return "; ".join(parts)


def skipped_label(capture: CaptureSummary) -> str:
    total = sum(capture.skipped.values())
    if not total:
        return "none skipped"
    reasons = ", ".join(f"{clean(reason)}: {n}" for reason, n in sorted(capture.skipped.items()))
    return f"{total} skipped ({reasons})"


def capture_label(capture: CaptureSummary) -> str:
    """One line per capture: path, format, counts, whether it was read to the end, and what
    its kind of metadata cannot show."""
    compressed = ", gzip" if capture.compressed else ""
    state = "complete" if capture.complete else "INCOMPLETE"
    return (
        f"{clean(capture.path)} ({clean(capture.format)}{compressed}): "
        f"{plural(capture.packets, 'packet')}, {capture.ip_packets} IP, "
        f"{plural(capture.flows, 'flow')}, {skipped_label(capture)}; {state}"
        + "".join(f"; {clean(limit)}" for limit in capture.limits)
    )


def database_label(database: DatabaseInfo) -> str:
    line = f"{clean(database.path)} ({clean(database.database_type)}, built "
    line += f"{build_date(database.build_epoch)})"
    if database.attribution:
        line += f": {clean(database.attribution)}"
    return line


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_label(result: AuditResult) -> str:
    s = result.summary
    return (
        f"{plural(s.endpoints, 'endpoint')}: {plural(s.violations, 'violation')}, "
        f"{s.unknown} unknown, {s.allowed} allowed, {s.local} local; "
        f"{plural(s.packets, 'packet')}, {plural(s.bytes, 'byte')}"
    )


def verdict_word(result: AuditResult) -> str:
    return result.verdict.value.upper()


LISTED_ROWS = 300  # table and text: past this many rows, allowed and local endpoints are counted


def listed_findings(result: AuditResult) -> tuple[list[Finding], str | None]:
    """The findings the table and text formats list, and a line for those they leave out.

    Violations and unknowns are always listed whole; allowed and local endpoints only up to
    LISTED_ROWS rows in all, so a capture with a million servers still gives a report a person
    can read (JSON and CSV list every endpoint).
    """
    ordered = sorted_findings(result.findings)
    if len(ordered) <= LISTED_ROWS:
        return ordered, None
    wanted = (Verdict.VIOLATION, Verdict.UNKNOWN)
    needing = sum(1 for f in ordered if f.judgement.verdict in wanted)
    shown = ordered[: max(needing, LISTED_ROWS)]
    left = ordered[len(shown) :]
    counts = dict.fromkeys((Verdict.ALLOWED, Verdict.LOCAL), 0)
    for finding in left:
        counts[finding.judgement.verdict] += 1
    parts = ", ".join(f"{n:,} {verdict.value}" for verdict, n in counts.items() if n)
    line = (
        f"... and {plural(len(left), 'more endpoint')} not listed here ({parts}): "
        "every endpoint is in --format json or csv"
    )
    return shown, line


def attention(result: AuditResult) -> list[Finding]:
    """Findings whose reason a reader needs: violations and unknowns, in report order."""
    wanted = (Verdict.VIOLATION, Verdict.UNKNOWN)
    return [f for f in sorted_findings(result.findings) if f.judgement.verdict in wanted]


@dataclass(frozen=True, slots=True)
class CaptureLines:
    """A capture's part of the table or text report: its line, its own verdict and the
    endpoints that need a reader, each with where to look in that capture."""

    capture: CaptureSummary
    verdict: OverallVerdict
    summary: str
    endpoints: tuple[str, ...]
    warnings: tuple[str, ...]


def capture_lines(result: AuditResult) -> list[CaptureLines]:
    """One entry per capture: with several captures each has its verdict and the violations
    and unknowns seen in it (first frame and times there); one capture is the whole report."""
    from auditor.report.sections import capture_sections

    batch = len(result.captures) > 1
    entries = []
    for section in capture_sections(result):
        own = section.result
        entries.append(CaptureLines(
            capture=section.capture,
            verdict=own.verdict,
            summary=f"{verdict_word(own)}: {summary_label(own)}" if batch else "",
            endpoints=tuple(sighting_label(f) for f in attention(own)) if batch else (),
            warnings=tuple(f"warning: {clean(w)}" for w in section.capture.warnings),
        ))
    return entries


def sighting_label(finding: Finding) -> str:
    """'203.0.113.50 violation (CN China): frame 42, 2026-01-01T00:00:00Z to ...Z, 100 packets'."""
    endpoint = finding.endpoint
    where = place_label(finding.location)
    line = f"{clean(endpoint.ip)} {finding.judgement.verdict.value}"
    line += f" ({where})" if where and not where.startswith("(") else ""
    frame = f"frame {endpoint.first_frame}, " if endpoint.first_frame else ""
    first, last = iso_time(endpoint.first_seen), iso_time(endpoint.last_seen)
    return f"{line}: {frame}{first} to {last}, {plural(endpoint.packets, 'packet')}"


def acceptance_label(finding: Finding) -> str:
    """Why a violation does not fail the run (or no longer is accepted), in words; cleaned."""
    acceptance = finding.acceptance
    if acceptance is None:
        return ""
    if acceptance.by is AcceptedBy.BASELINE:
        return f"accepted: already in the baseline {clean(acceptance.rule)}"
    said = f"exception {clean(acceptance.rule)}"
    why = clean(acceptance.justification, NAME_LIMIT * 2)
    if acceptance.expired:
        return f"{said} expired on {acceptance.expires}: no longer applies ({why})"
    return f"accepted by {said} until {acceptance.expires} ({why})"


def reason_label(finding: Finding) -> str:
    """The rule that decided, and any exception or baseline that accepts the finding."""
    reason = clean(finding.judgement.reason)
    accepted = acceptance_label(finding)
    return f"{reason}; {accepted}" if accepted else reason
