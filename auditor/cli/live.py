"""`audit live`: capture from an interface into a pcap file, then audit it like any other."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from auditor.cli.audit import audit, check_outputs, find_databases, policy_from, run_auditing
from auditor.cli.environment import Environment
from auditor.cli.options import Parser, add_audit_options
from auditor.report.escape import sanitize_text


def run(argv: list[str], env: Environment) -> int:
    return run_auditing(build_parser(env), argv, env, lambda args: _live(args, env))


def build_parser(env: Environment) -> Parser:
    parser = Parser(
        prog="audit live",
        env=env,
        description="Capture a meeting live from an interface (scapy; needs root or "
        "CAP_NET_RAW), save it as pcap, then audit it.",
    )
    live = parser.add_argument_group("capture")
    live.add_argument("-i", "--interface", required=True, help="interface to capture on")
    live.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    live.add_argument("--count", type=int, metavar="PACKETS", help="stop after this many packets")
    live.add_argument("-w", "--write", metavar="FILE", help="keep the capture in FILE (pcap); "
                      "default: a temporary file, removed after the audit")
    add_audit_options(parser)
    return parser


def _live(args: argparse.Namespace, env: Environment) -> int:
    if args.write:
        return _audit_live_into(Path(args.write), args, env)
    with tempfile.TemporaryDirectory(prefix="auditor-live-") as folder:
        return _audit_live_into(Path(folder) / "live.pcap", args, env)


def _audit_live_into(target: Path, args: argparse.Namespace, env: Environment) -> int:
    from auditor.live import capture_live, check_live_request

    # A bad policy, database, interface or output path fails before minutes of capturing.
    check_live_request(args.interface, args.duration, args.count, target)
    policy = policy_from(args)
    databases = find_databases(args, env)
    args.captures = [str(target)]
    check_outputs(args, databases)
    # scapy logs its warnings (no route, no address on an interface...) itself, on stderr.
    logging.getLogger("scapy").setLevel(logging.ERROR if args.quiet else logging.WARNING)

    def started() -> None:  # also what the live tests wait for before sending traffic
        if not args.quiet:
            env.stderr.write(f"audit: capturing on {sanitize_text(args.interface)}...\n")
            env.stderr.flush()

    capture_live(args.interface, target, duration=args.duration, count=args.count,
                 on_start=started)
    return audit(args, env, policy, databases)
