"""The country list and the jurisdiction groups."""

from __future__ import annotations

import pytest

from auditor.policy import groups


@pytest.mark.parametrize(("name", "size"), [("EU", 27), ("EEA", 30), ("EFTA", 4), ("FIVE_EYES", 5)])
def test_group_sizes(name: str, size: int) -> None:
    assert len(groups.GROUPS[name]) == size


def test_groups_hold_only_known_codes() -> None:
    for members in groups.GROUPS.values():
        assert members <= groups.ALL_COUNTRIES


def test_eea_is_eu_plus_three() -> None:
    extra = groups.EEA - groups.EU
    assert extra == {"IS", "LI", "NO"}
    assert "GB" not in groups.EU
    assert "CH" not in groups.EEA
    assert "CH" in groups.EFTA


@pytest.mark.parametrize("spelling", ["eu", "Eu", " EU ", "EU"])
def test_case_insensitive(spelling: str) -> None:
    assert groups.expand(spelling) == groups.EU


def test_aliases() -> None:
    assert groups.expand("uk") == frozenset({"GB"})
    assert groups.expand("el") == frozenset({"GR"})
    assert groups.expand("fvey") == groups.FIVE_EYES
    assert groups.expand("xk") == frozenset({"XK"})


@pytest.mark.parametrize("code", ["XX", "ZZ", "", "USA", "AP"])
def test_unknown(code: str) -> None:
    assert groups.expand(code) is None


def test_suggestions() -> None:
    assert groups.suggest("Germany") == ["DE"]
    assert "EEA" in groups.suggest("EEE")
