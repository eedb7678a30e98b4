"""Hypothesis budgets for the robustness tests: "ci" by default, "fuzz" for a long local run.

HYPOTHESIS_PROFILE=fuzz pytest tests/robustness  gives every property a far bigger budget. The
profiles are applied per test (not loaded globally) so other test folders keep their settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE = settings.get_profile(_NAME if _NAME in ("ci", "fuzz") else "ci")


def budget(ci_examples: int) -> settings:
    """The profile, with this test's own example count in CI (fuzz keeps its big budget)."""
    if PROFILE.max_examples > settings.get_profile("ci").max_examples:
        return PROFILE
    return settings(PROFILE, max_examples=ci_examples)
