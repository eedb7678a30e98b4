"""One progress line for a cluster run, fed from the futures: captures done and bytes read."""

from __future__ import annotations

from rich.progress import Progress, TaskID


class FilesAndBytes:
    """Takes the per-capture (path, bytes done, bytes total) updates of a run."""

    def __init__(self, bar: Progress, files: int) -> None:
        self.bar = bar
        self.files = files
        self.seen: dict[str, tuple[int, int]] = {}
        self.finished = 0
        self.done = 0
        self.total = 0
        self.task: TaskID = bar.add_task(self._label(), total=None)

    def __call__(self, path: str, done: int, total: int) -> None:
        before_done, before_total = self.seen.get(path, (0, -1))
        self.seen[path] = (done, total)
        self.finished += (done == total) - (before_done == before_total)
        self.done += done - before_done
        self.total += total - max(before_total, 0)
        self.bar.update(self.task, description=self._label(), completed=self.done, total=self.total)

    def _label(self) -> str:
        return f"captures read {self.finished}/{self.files}"
