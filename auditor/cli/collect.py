"""`audit collect`: receive NetFlow/IPFIX export into a file for a while, then audit the flows."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from auditor.cli.audit import audit, check_outputs, find_databases, policy_from, run_auditing
from auditor.cli.environment import Environment
from auditor.cli.options import Parser, add_audit_options


def run(argv: list[str], env: Environment) -> int:
    return run_auditing(build_parser(env), argv, env, lambda args: _collect(args, env))


def build_parser(env: Environment) -> Parser:
    parser = Parser(
        prog="audit collect",
        env=env,
        description="Receive NetFlow v5/v9 or IPFIX export over UDP for a while, keep it in a "
        "file, then audit the flows.",
    )
    collect = parser.add_argument_group("collect")
    collect.add_argument("--listen", required=True, metavar="ADDRESS:PORT",
                         help="where exporters send to, e.g. 127.0.0.1:2055 (port 0: any free "
                         "port, said on stderr)")
    collect.add_argument("--duration", type=float, required=True, metavar="SECONDS",
                         help="stop receiving after this long")
    collect.add_argument("-w", "--write", metavar="FILE", help="keep the received export in "
                         "FILE (audit FILE reads it again); default: a temporary file")
    add_audit_options(parser)
    return parser


def _collect(args: argparse.Namespace, env: Environment) -> int:
    from auditor.sources.collect import collect, parse_listen, ready_line

    # A bad policy, database, address or output path fails before minutes of collecting.
    policy = policy_from(args)
    databases = find_databases(args, env)
    listen = parse_listen(args.listen)

    def say(line: str) -> None:
        env.stderr.write(f"audit: {line}\n")
        env.stderr.flush()

    def receive_into(target: Path) -> int:
        args.captures = [str(target)]
        check_outputs(args, databases)
        # The readiness line goes out even with --quiet: scripts start their exporter on it.
        collect(listen, target, duration=args.duration,
                on_ready=lambda bound: say(ready_line(bound, args.duration)))
        return audit(args, env, policy, databases)

    if args.write:
        return receive_into(Path(args.write))
    with tempfile.TemporaryDirectory(prefix="auditor-collect-") as folder:
        return receive_into(Path(folder) / "export.flows")
