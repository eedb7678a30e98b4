"""The cluster run's progress line: captures done of all, bytes done of those known."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from auditor.cluster.progress import FilesAndBytes


def test_counts_captures_and_bytes_as_tasks_finish() -> None:
    bar = Progress(console=Console(file=io.StringIO()))
    update = FilesAndBytes(bar, files=3)
    update("a.pcap", 0, 100)  # sizes known up front, from the client's fingerprints
    update("b.pcap", 0, 300)
    update("b.pcap", 128, 300)  # a byte range of b done
    update("a.pcap", 100, 100)  # a read whole
    (task,) = bar.tasks
    assert (task.description, task.completed, task.total) == ("captures read 1/3", 228, 400)
    update("b.pcap", 300, 300)
    update("c.pcap", 50, 50)  # size learnt only when its worker read it
    (task,) = bar.tasks
    assert (task.description, task.completed, task.total) == ("captures read 3/3", 450, 450)
