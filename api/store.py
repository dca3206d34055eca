"""The service's one connection to its store, shared by requests one at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from mdm.store import open_store


class StoreService:
    """Owns the DuckDB file for the life of the process (DESIGN.md, Storage).

    DuckDB connections are not shared between threads, so requests take turns; a
    write runs in one transaction that commits before the response is sent, and what
    it registered with :meth:`after_commit` (the real-time engine's in-memory state)
    runs only once the commit succeeded.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = open_store(path)
        #: A second connection to the same database, for the engine's matches: they run
        #: outside the write lock (under the engine's own lock), beside a write.
        self.reader = self._con.cursor()
        self._lock = threading.RLock()
        self._pending: list[Callable[[], None]] = []
        self.engine = None  # the real-time engine, once the store has a trained model

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for queries."""
        with self._lock:
            yield self._con

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection inside a transaction: committed on success, rolled back on error."""
        with self._lock:
            self._pending = []
            self._con.execute("BEGIN TRANSACTION").fetchall()
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK").fetchall()
                self._pending = []
                raise
            self._con.execute("COMMIT").fetchall()
            pending, self._pending = self._pending, []
            for action in pending:
                action()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current write transaction has committed."""
        self._pending.append(action)

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            self.reader.close()
            self._con.close()
