"""Capture points that make a new SQLite history at the same moment all get in."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from auditor.history.store import _write_ahead

WRITERS, TRIALS = 6, 25


def _switch(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout = 60000")
        _write_ahead(connection.cursor())
        results.put("ok")
    except sqlite3.Error as error:
        results.put(repr(error))
    finally:
        connection.close()


def test_many_connections_switch_a_new_history_to_wal_at_once(tmp_path: Path) -> None:
    # A bare "PRAGMA journal_mode = WAL" failed here with "database is locked" in about one
    # trial in five (SQLite does not wait on the busy timeout for that lock).
    context = multiprocessing.get_context("fork")
    failures = []
    for trial in range(TRIALS):
        path = str(tmp_path / f"h{trial}.db")
        barrier, results = context.Barrier(WRITERS), context.Queue()
        processes = [context.Process(target=_switch, args=(path, barrier, results))
                     for _ in range(WRITERS)]  # fmt: skip
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join()
        failures += [o for o in outcomes if o != "ok"]
        with sqlite3.connect(path) as check:
            assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert failures == []
