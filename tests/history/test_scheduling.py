"""The README's scheduled runs (a cron line, a systemd service and timer) are checked, not
just shown: their syntax by their own tools where present, their commands by a shell and the
auditor's own argument parser."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.cli.audit import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
                ("day of week", 0, 7))


def fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.S | re.M)


def audit_arguments(command: str, tmp_path: Path) -> list[str]:
    """What the scheduled command would hand `audit`, after the shell expanded it: a stand-in
    `audit` first on PATH prints its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "audit"
    stand_in.write_text("#!/bin/sh\nprintf '%s\\0' \"$@\"\n")
    stand_in.chmod(0o755)
    done = subprocess.run(["sh", "-c", command], capture_output=True, check=True, timeout=30,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, cwd=tmp_path)
    return done.stdout.decode().split("\0")[:-1]


def _cron_field_ok(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if match is None:
            return False
        numbers = [int(n) for n in match.group(2, 3, 4)[:2] if n is not None]
        if any(not low <= n <= high for n in numbers):
            return False
    return True


def test_the_cron_line_is_a_valid_entry_that_runs_a_valid_audit(tmp_path: Path) -> None:
    (block,) = fenced("cron")
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    entries = [line for line in lines if not re.match(r"^[A-Z_]+=", line)]
    (entry,) = entries
    *schedule, user, command = entry.split(None, 6)
    for field, (name, low, high) in zip(schedule, _CRON_FIELDS, strict=True):
        assert _cron_field_ok(field, low, high), f"cron {name} field {field!r}"
    assert re.fullmatch(r"[a-z_][a-z0-9_-]*", user)  # /etc/cron.d has a user column
    # cron turns a bare % into a newline: every one must be escaped.
    assert "%" not in command.replace("\\%", "")
    arguments = audit_arguments(command.replace("\\%", "%"), tmp_path)
    args = build_parser().parse_intermixed_args(arguments)
    assert args.history == "/var/lib/auditor/auditor.db"
    assert args.captures[0].startswith("/srv/captures/20")  # the date was expanded


def _units(tmp_path: Path) -> dict[str, Path]:
    units = {}
    for block in fenced("ini"):
        first, _, body = block.partition("\n")
        name = Path(first.removeprefix("# ").strip()).name
        units[name] = tmp_path / name
        units[name].write_text(body)
    return units


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    units = _units(tmp_path)
    assert set(units) == {"auditor.service", "auditor.timer"}
    for path in units.values():
        parser = configparser.ConfigParser(strict=True, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        assert parser.sections()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is absent: the units were parsed for syntax only")
    done = subprocess.run([analyze, "verify", "--man=no", *map(str, units.values())],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "auditor" not in done.stderr, done.stderr
    calendar = subprocess.run([analyze, "calendar", "*-*-* 02:15:00"], capture_output=True,
                              text=True, timeout=60, check=False)
    assert calendar.returncode == 0, calendar.stderr


def test_the_service_runs_a_valid_audit(tmp_path: Path) -> None:
    service = configparser.ConfigParser(interpolation=None)
    service.read(_units(tmp_path)["auditor.service"])
    exec_start = service["Service"]["ExecStart"]
    match = re.fullmatch(r"/bin/sh -c '(.*)'", exec_start)
    assert match is not None, exec_start
    # systemd's own escapes: $$ is a dollar sign for the shell, %% a percent sign.
    command = match[1].replace("$$", "$").replace("%%", "%")
    args = build_parser().parse_intermixed_args(audit_arguments(command, tmp_path))
    assert args.history == "/var/lib/auditor/auditor.db"
    assert args.policy == "/etc/auditor/policy.toml"


def test_the_ci_job_is_valid_yaml_that_uploads_the_sarif_it_writes() -> None:
    import shlex

    import yaml

    (block,) = fenced("yaml")
    workflow = yaml.safe_load(block)
    assert workflow["permissions"]["security-events"] == "write"
    assert "schedule" in workflow[True]  # YAML 1.1 reads the key `on` as true
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    (audit_step,) = [s for s in steps if str(s.get("run", "")).startswith("audit ")]
    argv = shlex.split(audit_step["run"])[1:]
    args = build_parser().parse_intermixed_args(argv)
    assert args.format == "sarif"
    assert args.sarif_root == "."
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith(
        "github/codeql-action/upload-sarif@")]
    assert upload["with"]["sarif_file"] == args.output
    assert upload["if"] == "always()"  # exit 1 must not skip the upload
    assert steps.index(upload) > steps.index(audit_step)
