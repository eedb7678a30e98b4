"""`audit`'s entry point: the first word picks the command, through one dispatch table."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from auditor.cli.environment import Environment

Command = Callable[[list[str], Environment], int]  # (the words after the command's, env)


def _lazy(module: str, function: str = "run") -> Command:
    # A command's module (and what it imports: scapy, SQLAlchemy...) loads only when it runs.
    def command(argv: list[str], env: Environment) -> int:
        run: Command = getattr(importlib.import_module(module), function)
        return run(argv, env)

    return command


# To add a subcommand: a module in auditor/cli/ with `run(argv, env) -> int`, and one line here.
# Anything else is `audit CAPTURE...` (auditor/cli/audit.py).
SUBCOMMANDS: dict[str, Command] = {
    "live": _lazy("auditor.cli.live"),
    "collect": _lazy("auditor.cli.collect"),
    "db": _lazy("auditor.cli.db"),
    "history": _lazy("auditor.cli.history", "history"),
    "diff": _lazy("auditor.cli.history", "diff"),
}


def main(argv: Sequence[str], environment: Environment | None = None) -> int:
    env = environment or Environment()
    words = list(argv)
    if words and words[0] in SUBCOMMANDS:
        return SUBCOMMANDS[words[0]](words[1:], env)
    return _lazy("auditor.cli.audit")(words, env)
