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


def present_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The columns of ``table`` that hold a value in at least one row."""
    names = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    counts = con.execute(
        "SELECT " + ", ".join(f'count("{n}")' for n in names) + f" FROM {table}"
    ).fetchall()[0]
    return {name for name, count in zip(names, counts, strict=True) if count}
