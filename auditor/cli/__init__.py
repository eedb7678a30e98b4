"""The command line: `audit` and its subcommands.

core.py dispatches to one module per command (audit, live, db, history); environment.py holds
the streams, terminal facts and the one error/warning writer; status.py the exit statuses.
Only `python -m auditor` exits. Nothing but the standard library is imported here:
auditor.model imports cli.status, and the commands import the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor.cli.environment import Environment
from auditor.cli.status import ExitStatus


def main(argv: Sequence[str], environment: Environment | None = None) -> int:
    """Run `audit ARGV` and return its exit status."""
    from auditor.cli.core import main as run

    return run(argv, environment)


__all__ = ["Environment", "ExitStatus", "main"]
