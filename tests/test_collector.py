"""The stages after reading run without automatic cyclic garbage collection (each full
collection walked every per-server record again), and give the collector back as they found it."""

from __future__ import annotations

import gc
import weakref
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


@pytest.mark.usefixtures("collector_on")
def test_what_a_pause_made_is_old_not_young_after_it() -> None:
    """The first young collection after a pause must not walk every record the pause made:
    they are in the oldest generation when it ends, and a cycle made inside is still found."""
    assert gc.get_freeze_count() == 0
    with collector_paused():
        kept = [[n] for n in range(1000)]
        ring: list[object] = []
        ring.append(ring)
        found = weakref.ref(ring_holder := _Ring(ring))
        del ring, ring_holder
    in_a_cycle = found() is not None  # reference counting alone never frees it
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(record) in oldest for record in kept)
    assert in_a_cycle
    gc.collect()
    assert found() is None
    assert gc.get_freeze_count() == 0


class _Ring:
    """A cycle through an object a weak reference can watch."""

    def __init__(self, ring: list[object]) -> None:
        self.ring = ring
        ring.append(self)


@pytest.mark.usefixtures("collector_on")
def test_what_a_caller_froze_stays_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            made = [[n] for n in range(100)]
        assert gc.get_freeze_count() == frozen
        assert gc.isenabled()
        assert made
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("collector_on")
def test_a_capture_is_read_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    from auditor.sources import read_source as read

    def reading(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "read_source", reading)
    outcome = audit.read_one(str(DEMO))
    assert outcome.endpoints  # read whole
    assert seen == [False]
    assert gc.isenabled()
