"""The one way to write to a store in a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``con`` inside one transaction: committed when the block ends, rolled back when
    it raises (and the error goes on). ``con`` must not be in a transaction already.
    Every module that writes a store goes through this (``tests/test_layers.py``)."""
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    con.execute("COMMIT").fetchall()
