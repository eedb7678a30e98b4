"""The exit statuses of `audit`, defined once (as httpie's status.py does)."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # every server endpoint located, judged and allowed; every input read whole
    VIOLATIONS = 1  # at least one endpoint outside the policy
    ERROR = 2  # usage error, or input that could not be audited (the run is incomplete)
    SIGINT = 130  # 128 + the signal's number, as a shell reports it
    SIGTERM = 143
