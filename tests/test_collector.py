"""The stages after reading run without automatic cyclic garbage collection (each full
collection walked every per-server record again), and give the collector back as they found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor import audit
from auditor.audit import AuditRequest, collector_paused, run_audit
from auditor.policy import parse_policy

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo-meeting.pcap"


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_given_back_as_it_was(enabled: bool) -> None:
    if not enabled:
        gc.disable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the inner one must not turn it back on
            pass
        assert not gc.isenabled()
    assert gc.isenabled() is enabled


@pytest.mark.usefixtures("collector_on")
def test_an_error_inside_gives_the_collector_back() -> None:
    with pytest.raises(ValueError, match="boom"), collector_paused():
        raise ValueError("boom")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_an_audit_judges_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    from auditor.policy import judge_findings as judge

    def judging(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return judge(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "judge_findings", judging)
    request = AuditRequest(captures=(str(DEMO),), databases=(), policy=parse_policy(["US"]))
    result = run_audit(request)
    assert result.findings  # the real audit ran, and judged
    assert seen == [False]
    assert gc.isenabled()
