"""The client side of a cluster run: every capture and every byte range of a large one is a
task on the workers; the outcomes come back in the order the captures were given."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from distributed import Client, Future, as_completed

from auditor.audit import CaptureOutcome
from auditor.cluster import ClusterOptions, ranges, tasks
from auditor.cluster.identity import Fingerprint, code_version, fingerprint
from auditor.errors import AuditorError, UsageError

CONNECT_SECONDS: Final = 10
WORKERS_SECONDS: Final = 30  # for a first worker to join a scheduler that has none yet
# Finish the captures under way before starting on more: their range tables leave the workers.
MERGE_PRIORITY: Final = 1

Progress = Callable[[str, int, int], None]


class _Kind(Enum):
    PLAN = "plan"
    RANGE = "range"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class _Task:
    kind: _Kind
    capture: int  # index into the captures given
    size: int = 0  # bytes a range covers


def read_all(
    options: ClusterOptions, paths: tuple[str, ...], progress: Progress | None
) -> list[CaptureOutcome]:
    named = [(_absolute(path), path) for path in paths]
    with _connected(options) as client:
        return _Run(client, options, progress).read(named)


def _absolute(path: str) -> str:
    """The path every worker opens: they do not share the client's working directory."""
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise UsageError(
                f"{path}: not a file or folder: a cluster's workers read captures from storage "
                "they share, not from pipes or standard input"
            )
    return os.path.abspath(path)


@contextlib.contextmanager
def _connected(options: ClusterOptions) -> Iterator[Client]:
    address = options.address
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        raise AuditorError(f"{address}: cannot reach the Dask scheduler: {error}") from error
    try:
        try:
            client.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError as error:
            raise AuditorError(
                f"{address}: the Dask scheduler has no workers (waited {WORKERS_SECONDS} s)"
            ) from error
        yield client
    finally:
        # Also on Ctrl-C: the scheduler forgets the futures and cancels what has not run.
        client.close()


class _Run:
    def __init__(self, client: Client, options: ClusterOptions, progress: Progress | None) -> None:
        self.client = client
        self.options = options
        self.progress = progress
        self.code = code_version()
        self.tasks: dict[Future[Any], _Task] = {}
        self.outcomes: dict[int, CaptureOutcome] = {}
        self.shown: list[str] = []
        self.sizes: dict[int, int] = {}  # bytes per capture, once known
        self.done: dict[int, int] = {}  # bytes read so far, per capture read in ranges
        self.pending = as_completed(loop=client.loop)  # not the default client: there is none

    def read(self, named: list[tuple[str, str]]) -> list[CaptureOutcome]:
        self.shown = [shown for _path, shown in named]
        for index, (path, shown) in enumerate(named):
            expected = self._client_fingerprint(path, index)
            self._submit(
                _Task(_Kind.PLAN, index),
                tasks.plan_capture,
                path,
                shown,
                expected,
                self.code,
                self.options.range_bytes,
            )
        for future in self.pending:
            self._finished(future, self.tasks.pop(future))
        return [self.outcomes[index] for index in range(len(named))]

    def _client_fingerprint(self, path: str, index: int) -> Fingerprint | None:
        # The bytes the client names are the reference; when the client cannot open the file
        # itself, the first worker's view is, and every later task must share it.
        try:
            seen = fingerprint(path)
        except OSError:
            return None
        self.sizes[index] = seen.size
        self._report(index, 0)
        return seen

    def _submit(self, task: _Task, function: Callable[..., Any], *args: object) -> Future[Any]:
        priority = MERGE_PRIORITY if task.kind is _Kind.MERGE else 0
        future = self.client.submit(
            function, *args, pure=False, retries=self.options.retries, priority=priority
        )
        self.tasks[future] = task
        self.pending.add(future)
        return future

    def _finished(self, future: Future[Any], task: _Task) -> None:
        index = task.capture
        if future.status in ("pending", "lost"):
            # Its result was on a worker that died before the client took it: the scheduler
            # computes it again, since this client still holds the future.
            self.tasks[future] = task
            self.pending.add(future)
            return
        if future.status != "finished":
            if task.kind is not _Kind.RANGE:  # a failed range fails its merge, which reports
                error = _failure(self.shown[index], future)
                self.outcomes[index] = CaptureOutcome(None, (), error)
                self._report(index)  # done with, if not read
            return
        if task.kind is _Kind.PLAN:
            self._planned(index, future.result())
        elif task.kind is _Kind.RANGE:
            self.done[index] = self.done.get(index, 0) + task.size
            self._report(index, self.done[index])
        else:
            self.outcomes[index] = future.result()
            self._report(index)

    def _planned(self, index: int, plan: tasks.Whole | tasks.Split) -> None:
        self.sizes[index] = plan.fingerprint.size
        if isinstance(plan, tasks.Whole):
            self.outcomes[index] = plan.outcome
            self._report(index)
            return
        split = plan.ranges
        futures = [
            self._submit(
                _Task(_Kind.RANGE, index, ranges.size(split, part)),
                tasks.read_range,
                split,
                part,
                plan.fingerprint,
                self.code,
            )
            for part in range(len(split.starts))
        ]
        self._submit(
            _Task(_Kind.MERGE, index),
            tasks.merge_ranges,
            split,
            self.shown[index],
            plan.fingerprint,
            self.code,
            futures,
        )

    def _report(self, index: int, done: int | None = None) -> None:
        """Progress from the futures: bytes of this capture done (None: all of them)."""
        total = self.sizes.get(index)
        if self.progress is not None and total is not None:
            self.progress(self.shown[index], total if done is None else done, total)


def _failure(shown: str, future: Future[Any]) -> str:
    """Why a capture's task failed for good (its retries spent), as its error line."""
    error = future.exception() if future.status == "error" else None
    if isinstance(error, OSError):  # word for word as a local run's, when no worker can open it
        return f"{shown}: cannot read: {error.strerror or error}"
    reason = str(error) if error is not None else f"the task was {future.status}"
    return f"{shown}: could not be read on the cluster: {reason}"
