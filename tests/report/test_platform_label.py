"""The platform column says what the platform rested on once, never twice."""

from __future__ import annotations

from auditor.attribution import Attribution
from auditor.model import AttributionBasis
from auditor.report.view import platform_label
from tests.report.factory import endpoint


def test_a_port_hint_is_said_once() -> None:
    hint = Attribution("Zoom", AttributionBasis.PORT_HINT, "8801/udp")
    ep = endpoint("198.51.100.9", platform=hint.label, platform_basis=hint.basis)
    assert platform_label(ep) == "Zoom? (port hint)"


def test_other_bases_are_named_after_the_platform() -> None:
    ep = endpoint("198.51.100.7", platform="Zoom", platform_basis=AttributionBasis.RANGE)
    assert platform_label(ep) == "Zoom (range)"
