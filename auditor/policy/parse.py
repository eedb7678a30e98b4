"""Builds a Policy from --allow/--deny items or a TOML policy file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from auditor.errors import PolicyError
from auditor.model import JudgeBy, Policy, Role, RoleRule, Severity, Vantage, VantageSource
from auditor.policy.exceptions import parse_exceptions
from auditor.policy.groups import ALL_COUNTRIES, expand, normalise, suggest

POLICY_FILE_KEYS = frozenset(
    {"allow", "deny", "strict", "judge_by", "vantage", "roles", "exception", "fail_on"}
)
DEFAULT_ROLE = "default"  # [roles] default: the same as the top-level allow
# A policy names at most a few hundred countries; 1 MiB is far more than any real one.
MAX_POLICY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Wording:
    """How error messages name a policy's parts: options on the command line, keys in a file."""

    allow: str
    deny: str
    judge_by: str
    prefix: str = ""  # "policy.toml: " for a file


_COMMAND_LINE = _Wording("--allow", "--deny", "--judge-by")


def _file_wording(path: Path) -> _Wording:
    return _Wording("allow", "deny", "judge_by", prefix=f"{path}: ")


def split_items(items: Iterable[str]) -> tuple[str, ...]:
    """Each item may hold several comma-separated codes ("US,EU"); blanks are dropped."""
    return tuple(part.strip() for item in items for part in item.split(",") if part.strip())


def _unknown(item: str, option: str, wording: _Wording) -> PolicyError:
    hints = suggest(item)
    hint = f" (did you mean {' or '.join(repr(h) for h in hints)}?)" if hints else ""
    return PolicyError(f"{wording.prefix}unknown country code or group {item!r} in {option}{hint}")


def _expand_items(
    items: Sequence[str], option: str, wording: _Wording
) -> tuple[frozenset[str], tuple[str, ...]]:
    """The countries the items stand for, and the items in canonical spelling, in order."""
    countries: set[str] = set()
    spec: list[str] = []
    for item in items:
        expanded = expand(item)
        if expanded is None:
            raise _unknown(item, option, wording)
        countries |= expanded
        canonical = normalise(item)
        if canonical not in spec:
            spec.append(canonical)
    return frozenset(countries), tuple(spec)


def parse_policy(
    allow: Sequence[str],
    deny: Sequence[str] = (),
    *,
    strict: bool = False,
    judge_by: JudgeBy | str = JudgeBy.LOCATION,
    vantage: Vantage | None = None,
) -> Policy:
    """A policy from command-line items; deny-only allows every other country."""
    return _build(allow, deny, strict, judge_by, _COMMAND_LINE, vantage=vantage)


def _build(
    allow: Sequence[str],
    deny: Sequence[str],
    strict: bool,
    judge_by: JudgeBy | str,
    wording: _Wording,
    *,
    vantage: Vantage | None = None,
) -> Policy:
    allow_items, deny_items = split_items(allow), split_items(deny)
    if not allow_items and not deny_items:
        raise PolicyError(
            f"{wording.prefix}give {wording.allow} or {wording.deny}: "
            "a policy needs at least one jurisdiction"
        )
    allowed, allow_spec = _expand_items(allow_items, wording.allow, wording)
    denied, deny_spec = _expand_items(deny_items, wording.deny, wording)
    if not allow_items:
        allowed = ALL_COUNTRIES
    return Policy(
        allow=allowed,
        deny=denied,
        allow_spec=allow_spec,
        deny_spec=deny_spec,
        strict=strict,
        judge_by=_judge_by(judge_by, f"{wording.prefix}{wording.judge_by}"),
        vantage=vantage,
    )


def _judge_by(value: JudgeBy | str, where: str) -> JudgeBy:
    try:
        return JudgeBy(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(j.value for j in JudgeBy)
        raise PolicyError(f"{where}: {value!r} is not one of {choices}") from None


def _string_list(value: object, key: str, path: Path) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise PolicyError(f"{path}: {key!r} must be a list of country codes or group names")


def _policy_from_table(
    table: Mapping[str, object], path: Path, strict: bool, judge_by: JudgeBy | None
) -> Policy:
    """The file's policy; --strict and --judge-by, when given, win over the file's values."""
    unknown_keys = sorted(set(table) - POLICY_FILE_KEYS)
    if unknown_keys:
        known = ", ".join(sorted(POLICY_FILE_KEYS))
        raise PolicyError(f"{path}: unknown key {unknown_keys[0]!r} (known keys: {known})")
    file_strict = table.get("strict", False)
    if not isinstance(file_strict, bool):
        raise PolicyError(f"{path}: 'strict' must be true or false")
    file_judge_by = table.get("judge_by", JudgeBy.LOCATION.value)
    if not isinstance(file_judge_by, str):
        raise PolicyError(f"{path}: 'judge_by' must be a string")
    roles = _roles_table(table.get("roles", {}), path)
    allow = _string_list(table.get("allow", []), "allow", path)
    if DEFAULT_ROLE in roles:
        if allow:
            raise PolicyError(f"{path}: give 'allow' or [roles] default, not both")
        allow = roles.pop(DEFAULT_ROLE)
    policy = _build(
        allow,
        _string_list(table.get("deny", []), "deny", path),
        strict or file_strict,
        judge_by or file_judge_by,
        _file_wording(path),
        vantage=_vantage(table.get("vantage"), path),
    )
    return replace(policy, roles=_role_rules(roles, path),
                   exceptions=parse_exceptions(table.get("exception"), path),
                   fail_on=parse_fail_on(table.get("fail_on", policy.fail_on.value),
                                         f"{path}: fail_on"))


def parse_fail_on(value: object, where: str) -> Severity:
    """'denied', 'outside' or 'unknown': the least severe finding that fails a run."""
    try:
        return Severity(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in Severity)
        raise PolicyError(f"{where}: {value!r} is not one of {choices}") from None


def _roles_table(value: object, path: Path) -> dict[str, list[str]]:
    """[roles]: role name -> the jurisdictions that role's servers must stay in."""
    if not isinstance(value, dict):
        raise PolicyError(f"{path}: 'roles' must be a table ([roles] media = [\"EU\"])")
    known = {role.value for role in Role} | {DEFAULT_ROLE}
    found: dict[str, list[str]] = {}
    for name, items in value.items():
        if name not in known:
            names = ", ".join(sorted(known))
            raise PolicyError(f"{path}: unknown role {name!r} in [roles] (known roles: {names})")
        found[name] = _string_list(items, f"roles.{name}", path)
    return found


def _role_rules(roles: Mapping[str, list[str]], path: Path) -> tuple[RoleRule, ...]:
    wording = _file_wording(path)
    rules = []
    for name, items in roles.items():
        option = f"roles.{name}"
        expanded = split_items(items)
        if not expanded:
            raise PolicyError(f"{path}: {option} names no jurisdiction")
        allowed, spec = _expand_items(expanded, option, wording)
        rules.append(RoleRule(Role(name), allowed, spec))
    return tuple(rules)


def _vantage(value: object, path: Path) -> Vantage | None:
    from auditor.geo.vantage import VantageError, parse_vantage

    if value is None:
        return None
    if not isinstance(value, str):
        raise PolicyError(f"{path}: 'vantage' must be a string (lat,lon, a country or a city)")
    try:
        return parse_vantage(value, VantageSource.POLICY)
    except VantageError as error:
        raise PolicyError(f"{path}: vantage: {error}") from error


def load_policy_file(
    path: str | Path, *, strict: bool = False, judge_by: JudgeBy | None = None
) -> Policy:
    """A policy from a TOML file with keys allow, deny, strict, judge_by, vantage, fail_on and
    [[exception]] tables.

    ``strict`` and ``judge_by`` are the command line's: strict when either says so, and the
    command line's judge_by over the file's.
    """
    import tomllib  # only a --policy file needs it: start-up time

    path = Path(path)
    text = _read_policy_text(path)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path}: not a valid TOML policy file: {error}") from error
    except RecursionError as error:  # tomllib recurses once per level of [[[...]]] or {a={...}}
        raise PolicyError(f"{path}: not a policy file: nested too deeply") from error
    return _policy_from_table(table, path, strict, judge_by)


def _read_policy_text(path: Path) -> str:
    # Read, never stat, the size: /dev/zero and a pipe (`--policy <(...)`) have none to stat,
    # and one of them is endless.
    try:
        with path.open("rb") as file:
            data = file.read(MAX_POLICY_BYTES + 1)
    except OSError as error:
        raise PolicyError(f"{path}: cannot read policy file: {error.strerror}") from error
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(f"{path}: not a policy file: larger than {MAX_POLICY_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(
            f"{path}: not a policy file: not UTF-8 text at offset {error.start}"
        ) from error
