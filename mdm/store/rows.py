"""Writing many rows in few statements (DuckDB pays per statement, not per row).

The helpers every table family's writer shares: records and cross-references
(:mod:`mdm.store.records`), golden records and lineage (:mod:`mdm.store.golden`), review
tasks and pairs (:mod:`mdm.store.review`), real-time change sets
(:mod:`mdm.store.changes`) and the service's swap. They sit below those modules so that
none of them imports another for a helper.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from mdm.sql import one


def next_id(con: duckdb.DuckDBPyConnection, table: str, column: str) -> int:
    """One more than the largest ``column`` of ``table`` (1 when it is empty)."""
    row = one(con.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}"))
    return int(row[0]) if row else 1


def replace_table(
    con: duckdb.DuckDBPyConnection, table: str, rows: str, params: Sequence[Any] = ()
) -> None:
    """Make ``table`` (of the connection's current database) hold exactly ``rows``: the
    rest of an ``INSERT INTO`` statement, such as ``(a, b) SELECT ...``, which may read
    ``table`` as it was. They are written once into a new table of the same definition
    (its keys and constraints), which then takes the old one's place, inside the
    caller's transaction.

    A bulk run rewrites whole keyed tables. Deleting every row and inserting rows with
    the same keys in one transaction makes DuckDB's commit reconcile each key with its
    deleted twin: 28 s for a re-run's million records, against under a second for a new
    table. An index made on the old table apart from its definition (the service's,
    :mod:`mdm.store.indexes`) goes with it."""
    found = one(
        con.execute(
            "SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = current_schema() AND table_name = ?",
            [table],
        )
    )
    if found is None:
        raise LookupError(f"the store has no table {table!r} to replace")
    fresh = f"{table}__next"
    head = rf'^CREATE TABLE\s+(?:\S+\.)?"?{re.escape(table)}"?\s*\('
    ddl, made = re.subn(head, f"CREATE TABLE {fresh}(", found[0])
    if made != 1:
        raise LookupError(f"cannot read the definition of table {table!r}: {found[0][:80]}")
    con.execute(f"DROP TABLE IF EXISTS {fresh}")
    con.execute(ddl)
    con.execute(f"INSERT INTO {fresh} {rows}", list(params)).fetchall()
    con.execute(f"DROP TABLE {table}")
    con.execute(f"ALTER TABLE {fresh} RENAME TO {table}")


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Sequence[Any]], suffix: str = ""
) -> None:
    """Insert ``rows`` into ``table`` with one statement (DuckDB pays per statement)."""
    if not rows:
        return
    marks = "(" + ", ".join("?" for _ in rows[0]) + ")"
    con.execute(
        f"INSERT INTO {table} VALUES {', '.join(marks for _ in rows)} {suffix}",
        [value for row in rows for value in row],
    ).fetchall()


def insert_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` (values in ``columns`` order): many rows through Arrow (binding
    hundreds of parameters costs DuckDB more than the insert), a few as parameters."""
    if not rows:
        return
    if len(rows) * len(columns) <= 64:
        insert_rows(con, f"{table} ({', '.join(columns)})", rows)
        return
    arrays = {}
    for i, column in enumerate(columns):
        values = [row[i] for row in rows]
        arrays[column] = pa.array(values) if any(v is not None for v in values) else None
    frame = pa.table(
        {c: a if a is not None else pa.nulls(len(rows), pa.string()) for c, a in arrays.items()}
    )
    with registered(con, "_changed_rows", frame):
        con.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} "
            "FROM _changed_rows"
        ).fetchall()


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pa.Table) -> Iterator[None]:
    """``frame`` as a table ``name`` for the statements inside."""
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)


def delete_keyed(
    con: duckdb.DuckDBPyConnection,
    table: str,
    keys: Sequence[tuple[str, str]],
    suffix: str = "",
) -> None:
    """Delete the rows of ``keys`` (source, record_id) from ``table`` in one statement
    (``suffix``: "_l" or "_r" for a table of pairs, whose key columns carry it)."""
    if not keys:
        return
    frame = pa.table(
        {
            "source": pa.array([k[0] for k in keys], pa.string()),
            "record_id": pa.array([k[1] for k in keys], pa.string()),
        }
    )
    with registered(con, "_changed_keys", frame):
        con.execute(
            f"DELETE FROM {table} USING _changed_keys k WHERE {table}.source{suffix} = k.source "
            f"AND {table}.record_id{suffix} = k.record_id"
        ).fetchall()
