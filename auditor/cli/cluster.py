"""`audit --cluster`: the options that send the reading to a Dask cluster's workers."""

from __future__ import annotations

import argparse

from auditor.cluster import DEFAULT_RANGE_BYTES, ClusterOptions, parse_size
from auditor.errors import UsageError


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    cluster = parser.add_argument_group("cluster")
    cluster.add_argument("--cluster", metavar="ADDRESS", help="read the captures on a Dask "
                         "distributed cluster (tcp://SCHEDULER:8786; pip install "
                         "'auditor[cluster]'): every worker must see them at the same path")
    cluster.add_argument("--range-size", type=_size, metavar="SIZE", help="with --cluster, "
                         "larger uncompressed captures are read in byte ranges of SIZE, a task "
                         "each (default 128M)")


def cluster_options(args: argparse.Namespace) -> ClusterOptions | None:
    address = getattr(args, "cluster", None)  # `audit live` has no --cluster
    if address is None:
        if getattr(args, "range_size", None) is not None:
            raise UsageError("--range-size applies to --cluster runs only")
        return None
    if args.workers is not None:
        raise UsageError("--workers sets local processes; with --cluster the cluster's read")
    return ClusterOptions(address, args.range_size or DEFAULT_RANGE_BYTES)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
