"""`python -m auditor` and the `audit` console script: the only place that exits."""

from __future__ import annotations

import sys


def run() -> None:
    from auditor.cli import main

    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
