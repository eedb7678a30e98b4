"""A policy scoped by role: [roles] media = ["EU"], default = ["US", "EU"]."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import PolicyError
from auditor.model import Location, Policy, Role, RoleClaim, ServerEndpoint, ServerReason, Verdict
from auditor.policy import judge_findings, load_policy_file

POLICY = '[roles]\nmedia = ["EU"]\ndefault = ["US", "EU"]\n'


def _policy(tmp_path: Path, text: str = POLICY) -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return load_policy_file(path)


def _endpoint(*roles: Role) -> ServerEndpoint:
    return ServerEndpoint(
        ip="192.0.2.1", packets=1, bytes=1, flows=1, ports=("3478/udp",), protocols=("udp",),
        first_seen=0.0, last_seen=0.0, first_frame=1, reason=ServerReason.PORT,
        roles=tuple(RoleClaim(role, "test") for role in roles),
    )  # fmt: skip


def _verdict(tmp_path: Path, country: str, *roles: Role) -> tuple[Verdict, str]:
    location = Location(ip="192.0.2.1", country=country, registered_country=country)
    (finding,) = judge_findings([_endpoint(*roles)], [location], _policy(tmp_path))
    return finding.judgement.verdict, finding.judgement.reason


def test_policy_file_reads_roles(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    assert "US" in policy.allow  # [roles] default is the policy's own allow
    (rule,) = policy.roles
    assert rule.role is Role.MEDIA
    assert rule.allow_spec == ("EU",)
    assert "DE" in rule.allow
    assert "US" not in rule.allow


def test_media_in_the_us_is_a_violation_signalling_is_not(tmp_path: Path) -> None:
    verdict, reason = _verdict(tmp_path, "US", Role.MEDIA)
    assert verdict is Verdict.VIOLATION
    assert reason.startswith("as media: US is outside")
    assert _verdict(tmp_path, "US", Role.SIGNALLING)[0] is Verdict.ALLOWED
    assert _verdict(tmp_path, "DE", Role.MEDIA)[0] is Verdict.ALLOWED


def test_every_role_of_an_endpoint_must_hold(tmp_path: Path) -> None:
    assert _verdict(tmp_path, "US", Role.STUN, Role.MEDIA)[0] is Verdict.VIOLATION
    assert _verdict(tmp_path, "CN", Role.STUN)[0] is Verdict.VIOLATION


def test_endpoint_without_roles_is_judged_by_the_default(tmp_path: Path) -> None:
    assert _verdict(tmp_path, "US")[0] is Verdict.ALLOWED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[roles]\nvideo = ["EU"]\ndefault = ["EU"]\n', "unknown role 'video'"),
        ('allow = ["US"]\n[roles]\ndefault = ["EU"]\n', "not both"),
        ('allow = ["US"]\n[roles]\nmedia = ["XX"]\n', "unknown country code or group 'XX'"),
        ('allow = ["US"]\n[roles]\nmedia = []\n', "roles.media names no jurisdiction"),
        ('allow = ["US"]\nroles = ["EU"]\n', "'roles' must be a table"),
        ('allow = ["US"]\n[roles]\nmedia = 3\n', "'roles.media' must be a list"),
    ],
)
def test_bad_roles_tables(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        _policy(tmp_path, text)
