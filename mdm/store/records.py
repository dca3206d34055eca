"""Source records and their cross-references written: the one place for the SQL that
writes them.

Every statement that writes the ``records`` and ``xref`` tables is here (a test in
``tests/test_layers.py`` holds it), with the events a bulk run logs about them. Its
callers:

- a bulk run (:func:`mdm.bulk.write.write_run`): :func:`write_bulk_records`, every
  record of the run with its version, then :func:`write_bulk_xref`, each record's golden
  id, with an event for every record added, updated, deleted or moved;
- real time (:func:`mdm.store.changes.apply_changes`): :func:`write_change_records` and
  :func:`write_change_xref`, a batch of change sets' rows;
- a steward's name variant (:func:`mdm.review.refresh_variant_keys`):
  :func:`write_variant_keys`, the variant keys of the records with those names.

An erasure deletes records as real-time deletes do (through
:func:`mdm.store.changes.apply_changes`). :func:`load_records` reads the stored records
back for a run that reloads only some sources.

Why one module: a newcomer asking "where is a record or its golden id written?" should
guess one module and be right, and the paths must leave the same rows (a record's
version, first run and ingestion time kept while its raw values do not change); side by
side, a change to one shows where the others must follow.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from mdm.golden import INPUTS_DIGEST_SQL
from mdm.schema import RECORD_COLUMNS
from mdm.sql import one
from mdm.store.rows import delete_keyed, insert_columns, next_id, replace_table

#: A source record's key: (source, record_id).
Key = tuple[str, str]

#: Columns of a record row in a change set, in the records table's order.
ROW_COLUMNS = (*RECORD_COLUMNS, "extra", "raw", "version", "ingested_at")

#: The index the real-time service keeps on cross-references by golden id
#: (:func:`mdm.store.indexes.index_for_service`); a bulk run's new xref table is
#: written without it, and the service makes it again.
XREF_INDEX = "xref_golden"


def load_records(con: duckdb.DuckDBPyConnection, exclude_sources: list[str]) -> pd.DataFrame:
    """Stored records of every source not being reloaded, in the shape ingest makes."""
    columns = ", ".join([*RECORD_COLUMNS, "extra", "raw"])
    return con.execute(
        f"SELECT {columns} FROM store.records WHERE NOT list_contains(?, source)",
        [exclude_sources],
    ).df()


# --- a bulk run: set-based, every record at once --------------------------------------


def write_bulk_records(con: duckdb.DuckDBPyConnection, run_id: int, now: datetime) -> None:
    """Replace every stored record with the run's (``memory.work`` joined to
    ``memory.payload``), written as a new table (:func:`~mdm.store.rows.replace_table`):
    a record whose raw values changed, or a new one, gets the next version, this run and
    ``now``; an unchanged one keeps its version, first run and ingestion time. The
    previous versions stay in the temporary table ``previous_versions`` for
    :func:`write_bulk_xref`'s events and the golden writer."""
    columns = [*RECORD_COLUMNS, "extra", "raw"]
    names = ", ".join(columns)
    selected = ", ".join(f"n.{c}" for c in columns)
    # A digest of each raw record, not its text: a re-run of a million records held
    # 244 MB of it. The digest of what survivorship reads tells the golden writer which
    # records changed.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE previous_versions AS SELECT source, record_id, version, "
        "md5_number(raw::VARCHAR) AS raw_digest, run_id AS first_run, ingested_at, "
        f"{INPUTS_DIGEST_SQL} AS inputs_digest FROM records"
    )
    # Each record's digest once, and none for a store with no records yet.
    stored = one(con.execute("SELECT count(*) FROM previous_versions"))
    same = "false"
    if stored and stored[0]:
        same = (
            "p.version IS NOT NULL AND p.raw_digest IS NOT DISTINCT FROM md5_number(n.raw::VARCHAR)"
        )
    replace_table(
        con,
        "records",
        f"({names}, version, run_id, ingested_at) SELECT {selected}, "
        "CASE WHEN _version IS NULL THEN 1 WHEN _same THEN _version ELSE _version + 1 END, "
        "CASE WHEN _same THEN _first_run ELSE ? END, "
        "CASE WHEN _same THEN _ingested_at ELSE ? END "
        "FROM (SELECT n.*, p.version AS _version, p.first_run AS _first_run, "
        f"p.ingested_at AS _ingested_at, {same} AS _same "
        "FROM (SELECT * FROM memory.work JOIN memory.payload USING (uid)) n "
        "LEFT JOIN previous_versions p USING (source, record_id)) n",
        [run_id, now],
    )


def write_bulk_xref(con: duckdb.DuckDBPyConnection, run_id: int, now: datetime) -> None:
    """Replace every cross-reference with the run's (each record of ``memory.work`` with
    its golden id from the run's ``run_golden``: uid, golden_id), written as a new
    table, and log an event for every record added, updated, deleted or moved (after
    :func:`write_bulk_records`, whose previous versions it reads). The previous
    cross-references stay in the temporary table ``xref_before`` for the golden
    writer."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE xref_before AS SELECT source, record_id, golden_id FROM xref"
    )
    replace_table(
        con,
        "xref",
        "SELECT w.source, w.record_id, g.golden_id, ? FROM memory.work w "
        "JOIN run_golden g USING (uid)",
        [run_id],
    )
    _log_record_changes(con, run_id, now)


def _log_record_changes(con: duckdb.DuckDBPyConnection, run_id: int, now: datetime) -> None:
    """An event for every source record the run added, updated, deleted or moved to
    another golden record (``record_linked``, from which id), so that the event log
    alone tells each record's golden record at any time."""
    event_id = next_id(con, "events", "event_id")
    con.execute(
        "INSERT INTO events SELECT ? + row_number() OVER (ORDER BY source, record_id, kind) - 1, "
        "?, kind, golden_id, source, record_id, 'system', detail FROM ("
        "SELECT n.source, n.record_id, n.golden_id, 'record_added' AS kind, "
        "json_object('version', 1, 'run_id', ?) AS detail FROM xref n "
        "ANTI JOIN xref_before o USING (source, record_id) "
        "UNION ALL SELECT o.source, o.record_id, o.golden_id, 'record_deleted', "
        "json_object('run_id', ?) FROM xref_before o ANTI JOIN xref n USING (source, record_id) "
        "UNION ALL SELECT n.source, n.record_id, n.golden_id, 'record_linked', "
        "json_object('from', o.golden_id, 'run_id', ?) FROM xref n JOIN xref_before o "
        "USING (source, record_id) WHERE n.golden_id <> o.golden_id "
        "UNION ALL SELECT r.source, r.record_id, x.golden_id, 'record_updated', "
        "json_object('version', r.version, 'run_id', ?) FROM records r "
        "JOIN previous_versions p USING (source, record_id) JOIN xref x USING (source, record_id) "
        "WHERE r.version <> p.version)",
        [event_id, now, run_id, run_id, run_id, run_id],
    )


# --- real time: a batch of change sets -------------------------------------------------


def write_change_records(
    con: duckdb.DuckDBPyConnection,
    records: Mapping[Key, Mapping[str, Any] | None],
    stored: Set[Key],
) -> None:
    """Write a batch of change sets' records (two statements). ``records``: key -> the
    row as last written (:data:`ROW_COLUMNS`), None when the record is removed;
    ``stored``: keys the store may hold rows of (deleted first)."""
    keys = sorted(records)
    delete_keyed(con, "records", sorted(stored & set(keys)))
    rows = [row for k in keys if (row := records[k]) is not None]
    insert_columns(con, "records", ROW_COLUMNS, [[row.get(c) for c in ROW_COLUMNS] for row in rows])


def write_change_xref(
    con: duckdb.DuckDBPyConnection, xref: Mapping[Key, str | None], stored: Set[Key]
) -> None:
    """Write a batch of change sets' cross-references (two statements). ``xref``: key ->
    its golden id as last decided, None when the record is removed; ``stored``: keys the
    store may hold rows of (deleted first)."""
    keys = sorted(xref)
    delete_keyed(con, "xref", sorted(stored & set(keys)))
    insert_columns(
        con,
        "xref",
        ("source", "record_id", "golden_id"),
        [(*k, xref[k]) for k in keys if xref[k] is not None],
    )


# --- a steward's name variant -----------------------------------------------------------


def write_variant_keys(con: duckdb.DuckDBPyConnection, column: str, keys: pd.DataFrame) -> int:
    """Set ``{column}_variants`` of each record whose ``column`` (a first or middle
    name) is a ``value`` of ``keys`` to that row's ``keys``, where they differ; returns
    how many records changed."""
    con.register("new_variant_keys", keys)
    try:
        row = con.execute(
            f"UPDATE records SET {column}_variants = k.keys FROM new_variant_keys k "
            f"WHERE records.{column} = k.value AND records.{column}_variants IS DISTINCT "
            "FROM k.keys"
        ).fetchall()
    finally:
        con.unregister("new_variant_keys")
    return int(row[0][0]) if row else 0
