"""CSV rows and history entries made from cells shared between endpoints equal those made
finding by finding."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from auditor.model import Finding, Sighting
from auditor.report import csv_format
from auditor.report.csv_format import Cell, _row
from auditor.report.json_format import ATTENTION_KEYS, attention_json, endpoint_json
from auditor.report.sections import in_capture
from tests.report.factory import policy
from tests.report.test_json_rows import _mixed_findings


def _rows_one_by_one(finding: Finding) -> Iterator[list[Cell]]:
    """The CSV rows as the format made them before sharing cells: one per capture seen in."""
    seen = finding.endpoint.seen_in()
    if len(seen) <= 1:
        yield _row(finding, seen[0].capture if seen else "")
        return
    for sighting in seen:
        yield _row(in_capture(finding, sighting.capture), sighting.capture)


def _findings() -> list[Finding]:
    """Every mixed case, and one endpoint with a single sighting in a capture of its own."""
    found = _mixed_findings()
    first = found[0]
    alone = Sighting("other.pcap", 3, 300, 1, 1.5, 2.5, 7)
    return [*found, replace(first, endpoint=replace(first.endpoint, sightings=(alone,))), *found]


@pytest.mark.parametrize("limit", [3, 20_000])
def test_csv_rows_from_shared_cells_are_each_findings_own(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_format, "_LIMIT", limit)
    monkeypatch.setattr(csv_format, "CHUNK", 5)  # times formatted over several chunks
    findings = _findings()
    expected = [row for f in findings for row in _rows_one_by_one(f)]
    assert list(csv_format._Rows().of(findings)) == expected


def test_history_entries_are_the_json_reports_keys() -> None:
    pol = policy(deny="CN")
    for finding in _findings():
        whole = endpoint_json(finding, pol)
        assert attention_json(finding) == {key: whole[key] for key in ATTENTION_KEYS}


def test_endpoints_alike_but_for_their_roles_keep_their_own_roles() -> None:
    """The ports, names and platform cells are shared; the roles (keyed by the tuple's
    identity) are each endpoint's own, in CSV and JSON alike."""
    from auditor.model import Location, Role, RoleClaim
    from auditor.report import get_format
    from auditor.report.json_rows import EndpointLines
    from auditor.report.view import roles_label
    from tests.report.factory import PLAIN, endpoint, finding, sample_result

    pol = policy()
    roles = [(RoleClaim(Role.MEDIA, "rtp"),), (RoleClaim(Role.STUN, "stun message"),), ()]
    found = [
        finding(endpoint(f"192.0.2.{i + 1}", roles=r), Location("", country="US"), pol)
        for i, r in enumerate(roles * 2)
    ]
    result = replace(sample_result(), findings=tuple(found))
    rows = list(csv.DictReader(io.StringIO(get_format("csv", PLAIN).render(result))))
    by_ip = {row["ip"]: row["roles"] for row in rows if row["ip"]}
    assert by_ip == {f.endpoint.ip: roles_label(f.endpoint) for f in found}
    lines = EndpointLines(pol)
    assert list(lines.lines(found)) == [
        json.dumps(endpoint_json(f, pol), ensure_ascii=False, separators=(", ", ": "))
        for f in found
    ]
