"""The one list of country codes, and what a database's country code must look like."""

from __future__ import annotations

import pytest

from auditor.countries import ISO_3166_ALPHA2, country_name, is_country_code


def test_iso_list_is_complete() -> None:
    assert len(ISO_3166_ALPHA2) == 249
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in ISO_3166_ALPHA2)
    assert ISO_3166_ALPHA2["DE"] == "Germany"


@pytest.mark.parametrize("code", ["DE", "CN", "US", "XK"])
def test_country_codes(code: str) -> None:
    assert is_country_code(code)


@pytest.mark.parametrize(
    "code",
    ["ＣＮ", "cn", "Cn", "ſe", "ıt", "EU", "AP", "ZZ", "XX", "CHN", "C", "", " CN", "CN\x00"],
)
def test_not_country_codes(code: str) -> None:
    assert not is_country_code(code)


def test_country_name() -> None:
    assert country_name("XK") == "Kosovo"
    assert country_name("EU") is None
