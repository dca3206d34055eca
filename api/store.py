"""The service's one connection to its store, shared by requests one at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from mdm.store import open_store


class StoreService:
    """Owns the DuckDB file for the life of the process (DESIGN.md, Storage).

    DuckDB connections are not shared between threads, so requests take turns; a
    write runs in one transaction that commits before the response is sent.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = open_store(path)
        self._lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for queries."""
        with self._lock:
            yield self._con

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection inside a transaction: committed on success, rolled back on error."""
        with self._lock:
            self._con.execute("BEGIN TRANSACTION").fetchall()
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK").fetchall()
                raise
            self._con.execute("COMMIT").fetchall()

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            self._con.close()
