"""Small DuckDB helpers every layer may use (it imports nothing of mdm)."""

from __future__ import annotations

from typing import Any

import duckdb


def one(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of an executed query, reading the result to its end.

    DuckDB refuses new work on a connection whose last result was not read out.
    """
    rows = result.fetchall()
    return rows[0] if rows else None
