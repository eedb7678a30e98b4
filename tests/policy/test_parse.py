"""Parsing --allow/--deny and policy files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import PolicyError, UsageError
from auditor.model import JudgeBy
from auditor.policy import load_policy_file, parse_policy
from auditor.policy.groups import ALL_COUNTRIES, EU


def test_comma_separated_and_repeated() -> None:
    policy = parse_policy(["us,EU", "gb"])
    assert policy.allow == EU | {"US", "GB"}
    assert policy.allow_spec == ("US", "EU", "GB")
    assert policy.deny == frozenset()


def test_duplicates_and_blanks_are_dropped() -> None:
    assert parse_policy(["US,,us", " "]).allow_spec == ("US",)


def test_unknown_code_names_it() -> None:
    with pytest.raises(PolicyError, match=r"unknown country code or group 'XX' in --allow"):
        parse_policy(["US,XX"])


def test_unknown_is_a_usage_error_with_a_suggestion() -> None:
    with pytest.raises(UsageError, match=r"'Germny' in --deny.*did you mean"):
        parse_policy(["US"], ["Germny"])
    with pytest.raises(PolicyError, match=r"did you mean 'DE'"):
        parse_policy(["Germany"])


def test_neither_allow_nor_deny() -> None:
    with pytest.raises(PolicyError, match="give --allow or --deny"):
        parse_policy([], [])


def test_deny_only_allows_everything_else() -> None:
    policy = parse_policy([], ["CN,RU"])
    assert policy.allow == ALL_COUNTRIES
    assert policy.deny == {"CN", "RU"}
    assert policy.allow_spec == ()


def test_options() -> None:
    policy = parse_policy(["US"], strict=True, judge_by="Both")
    assert policy.strict
    assert policy.judge_by is JudgeBy.BOTH
    with pytest.raises(PolicyError, match="--judge-by"):
        parse_policy(["US"], judge_by="where")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_policy_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path, 'allow = ["US", "eu"]\ndeny = ["DE"]\nstrict = true\njudge_by = "registration"\n'
    )
    policy = load_policy_file(path)
    assert policy.allow_spec == ("US", "EU")
    assert policy.deny == {"DE"}
    assert policy.strict
    assert policy.judge_by is JudgeBy.REGISTRATION


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('allow = ["XX"]', r"unknown country code or group 'XX' in allow"),
        ("allow = [", "not a valid TOML"),
        ('allow = ["US"]\ncolour = 1', "unknown key 'colour'"),
        ("allow = [1]", "'allow' must be a list"),
        ('allow = ["US"]\nstrict = "yes"', "'strict' must be true or false"),
        ('allow = ["US"]\njudge_by = "x"', "judge_by"),
        ("", "give allow or deny"),
    ],
)
def test_policy_file_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError, match=message) as caught:
        load_policy_file(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy_file(tmp_path / "absent.toml")


def test_policy_file_with_command_line_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, 'allow = ["EU"]\njudge_by = "registration"\n')
    from_file = load_policy_file(path)
    assert (from_file.strict, from_file.judge_by) == (False, JudgeBy.REGISTRATION)
    overridden = load_policy_file(path, strict=True, judge_by=JudgeBy.BOTH)
    assert (overridden.strict, overridden.judge_by) == (True, JudgeBy.BOTH)
    assert overridden.allow == from_file.allow
    assert overridden.allow_spec == ("EU",)


def test_policy_file_errors_quote_the_item_as_written(tmp_path: Path) -> None:
    # The message is worded for a file where it is made; the user's own text is never edited.
    path = _write(tmp_path, 'deny = ["--deny-all"]\n')
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert str(caught.value) == f"{path}: unknown country code or group '--deny-all' in deny"


def test_command_line_errors_name_the_option() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(["US"], ["XX"])
    assert str(caught.value) == "unknown country code or group 'XX' in --deny"
    with pytest.raises(PolicyError, match=r"^give --allow or --deny: "):
        parse_policy([])
