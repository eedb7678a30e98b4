"""`audit history` and `audit diff`, whose work lives in auditor/history/commands.py."""

from __future__ import annotations

from auditor.cli.environment import Environment


def history(argv: list[str], env: Environment) -> int:
    from auditor.history.commands import history_main

    return history_main(["history", *argv], env.env, env.stdout, env.stderr)


def diff(argv: list[str], env: Environment) -> int:
    from auditor.history.commands import history_main

    return history_main(["diff", *argv], env.env, env.stdout, env.stderr)
