"""Golden records and their lineage written: the one place for the SQL that writes them.

Every statement that writes the ``golden`` and ``lineage`` tables is here (a test in
``tests/test_layers.py`` holds it), the steward's values laid over a bulk run's rows
included (:func:`apply_overrides`, reading the overrides in effect from
:mod:`mdm.store.overrides`). Its callers:

- a bulk run (:func:`mdm.bulk.write.write_run`): :func:`retire_bulk` for the ids the
  run's clusters no longer keep, then :func:`write_bulk_golden`, every active golden
  record derived again in SQL by the survivorship rules;
- real time (:func:`mdm.store.changes.apply_changes`): :func:`write_change_golden`,
  the golden records a batch of change sets derived in process, and its retirements;
- a steward's override (:mod:`mdm.overrides`): :func:`write_golden_records`, one golden
  record derived again in process;
- an erasure (:mod:`mdm.erasure`): :func:`blank_erased`.

Why one module: a newcomer asking "where is a golden record written?" should guess
one module and be right, and the paths must leave the same rows (the same columns, a
record's creation time kept, a retired id keeping its values and naming its
survivor); side by side, a change to one shows where the others must follow. Which
value wins is decided elsewhere (:mod:`mdm.golden`, pure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from mdm.golden import (
    INPUTS_DIGEST_SQL,
    RECENCY_SQL,
    Survived,
    derivation_fingerprint,
    survivorship_queries,
)
from mdm.schema import ATTRIBUTES
from mdm.store.overrides import EFFECTIVE_SQL, RULE, SOURCE
from mdm.store.rows import insert_columns, insert_rows, next_id, replace_table

if TYPE_CHECKING:
    import pandas as pd

    from mdm.rules.bundle import RulesBundle

#: The index the real-time service keeps on lineage by golden id
#: (:func:`mdm.store.indexes.index_for_service`); a bulk run's rewrite of lineage drops
#: it, and the service makes it again.
LINEAGE_INDEX = "lineage_golden"

#: The golden table's columns, in the order the writers give them.
COLUMNS = (
    "golden_id", "status", "survivor_id", "created_at", "updated_at", "record_count",
    *ATTRIBUTES, "extra",
)  # fmt: skip


# --- a bulk run: set-based, every golden record at once ------------------------------


def retire_bulk(
    con: duckdb.DuckDBPyConnection, retired: pd.DataFrame, run_id: int, now: datetime
) -> None:
    """Retire the golden records a bulk run's clusters no longer keep, each naming its
    survivor (``retired``: golden_id, survivor_id, from
    :func:`mdm.golden.survivors_of_retired`), with a ``golden_retired`` event each."""
    con.register("run_retired", retired)
    con.execute(
        "UPDATE golden SET status = 'retired', survivor_id = r.survivor_id, updated_at = ? "
        "FROM run_retired r WHERE golden.golden_id = r.golden_id",
        [now],
    )
    con.unregister("run_retired")
    event_id = next_id(con, "events", "event_id")
    con.execute(
        "INSERT INTO events SELECT ? + row_number() OVER (ORDER BY golden_id) - 1, ?, "
        "'golden_retired', golden_id, NULL, NULL, 'system', "
        "json_object('survivor_id', survivor_id, 'run_id', ?) FROM golden "
        "WHERE status = 'retired' AND updated_at = ?",
        [event_id, now, run_id, now],
    )


def write_bulk_golden(
    con: duckdb.DuckDBPyConnection,
    rules: RulesBundle,
    run_id: int,
    now: datetime,
    previous: str | None = None,
) -> None:
    """Derive the active golden records and their lineage from the stored records and
    cross-references, lay the steward's values over them, and log an event for each
    golden record created or changed (in the bulk run's transaction).

    When ``previous`` (the last bulk run's :func:`~mdm.golden.derivation_fingerprint`)
    is this run's, only the golden records whose records changed, came or went are
    derived again (found from ``previous_versions`` and ``xref_before``, which the
    records' writer left); the others keep their rows and lineage as they are. Either
    way a golden record the run left as it was keeps its ``updated_at``: "changed
    since" stays true after a nightly re-run of the same files."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE golden_before AS SELECT golden_id, record_count, extra, "
        f"updated_at, {', '.join(ATTRIBUTES)} FROM golden WHERE status = 'active'"
    )
    only_changed = previous == derivation_fingerprint(rules.survivorship)
    if only_changed:
        _find_changed(con)
    _derive_bulk(con, rules, now, only_changed)
    apply_overrides(con)  # a steward's value wins until cleared
    same = " AND ".join(
        f"golden.{c} IS NOT DISTINCT FROM b.{c}" for c in ("record_count", "extra", *ATTRIBUTES)
    )
    if only_changed:  # the others kept their rows
        same += " AND golden.golden_id IN (SELECT golden_id FROM golden_changed)"
    con.execute(
        "UPDATE golden SET updated_at = b.updated_at FROM golden_before b WHERE "
        f"golden.golden_id = b.golden_id AND golden.status = 'active' AND {same}"
    )
    _log_bulk_changes(con, run_id, now)
    con.execute("DROP TABLE IF EXISTS xref_before")


def _find_changed(con: duckdb.DuckDBPyConnection) -> None:
    """The golden ids to derive again (temporary table ``golden_changed``): those holding
    a record that is new, moved or changed in what survivorship reads, and those a
    record left."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE golden_changed AS "
        "SELECT x.golden_id FROM xref x "
        f"JOIN (SELECT source, record_id, {INPUTS_DIGEST_SQL} AS inputs_digest FROM records) r "
        "USING (source, record_id) "
        "LEFT JOIN previous_versions p USING (source, record_id) "
        "LEFT JOIN xref_before b USING (source, record_id) "
        "WHERE p.inputs_digest IS DISTINCT FROM r.inputs_digest "
        "OR b.golden_id IS DISTINCT FROM x.golden_id "
        "UNION SELECT b.golden_id FROM xref_before b "
        "LEFT JOIN xref x USING (source, record_id) "
        "WHERE x.golden_id IS DISTINCT FROM b.golden_id"
    )


def _derive_bulk(
    con: duckdb.DuckDBPyConnection, rules: RulesBundle, now: datetime, only_changed: bool
) -> None:
    """Derive the active golden records and their lineage from the records by the
    survivorship rules, in SQL (the real-time path does one golden record in process:
    :func:`mdm.golden.survive`, :func:`write_golden_records`): every one, or with
    ``only_changed`` those of ``golden_changed``."""
    chosen = "WHERE golden_id IN (SELECT golden_id FROM golden_changed)" if only_changed else ""
    # _recency: larger is more recent; unique, so ties end in (source, record_id) order.
    # Numbered over the chosen records only: a golden record's are all among them.
    attributes = ", ".join(f"r.{a}" for a in ATTRIBUTES)
    # The recency numbered over the keys alone, then joined: a window over the whole
    # rows sorts every column with them (1.9 s against 0.7 s for a million records).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE golden_keys AS SELECT source, record_id, golden_id "
        f"FROM xref {chosen}"
    )
    ranked = "records"
    if only_changed:
        ranked = "records SEMI JOIN golden_keys USING (source, record_id)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE golden_work AS SELECT source, record_id, {attributes}, "
        "r.extra, x.golden_id, k._recency "
        "FROM records r JOIN golden_keys x USING (source, record_id) "
        f"JOIN (SELECT source, record_id, {RECENCY_SQL} AS _recency FROM {ranked}) k "
        "USING (source, record_id)"
    )
    joins, selected, lineage = [], {}, []
    for index, (columns, sql) in enumerate(survivorship_queries(rules.survivorship, "golden_work")):
        unit = f"survivor_{index}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {unit} AS {sql}")
        for column in columns:
            lineage.append(
                f"SELECT golden_id, '{column}', {column}, source, record_id, rule FROM {unit} "
                f"WHERE {column} IS NOT NULL"
            )
            selected[column] = f"{unit}.{column}"
        joins.append(f"LEFT JOIN {unit} USING (golden_id)")
    if only_changed:  # the lineage of the golden records derived again, and the retired
        con.execute(
            "DELETE FROM lineage WHERE golden_id IN (SELECT golden_id FROM golden_changed) "
            "OR golden_id NOT IN (SELECT golden_id FROM xref)"
        )
    else:  # rewriting all lineage is faster without the real-time path's index on it
        con.execute(f"DROP INDEX IF EXISTS {LINEAGE_INDEX}")
        con.execute("DELETE FROM lineage")
    con.execute("INSERT INTO lineage " + " UNION ALL ".join(lineage))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE golden_members AS SELECT golden_id, count(*) AS n, "
        "arg_max(extra, _recency) AS extra FROM golden_work GROUP BY golden_id"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE golden_created AS SELECT golden_id, created_at FROM golden "
        "WHERE status = 'active'"
    )
    # A golden record none of whose records is left retires (it keeps its values).
    con.execute(
        "UPDATE golden SET status = 'retired', survivor_id = NULL, updated_at = ? "
        "WHERE status = 'active' AND golden_id NOT IN (SELECT golden_id FROM xref)",
        [now],
    )
    event_id = next_id(con, "events", "event_id")
    con.execute(
        "INSERT INTO events SELECT ? + row_number() OVER (ORDER BY golden_id) - 1, ?, "
        "'golden_retired', golden_id, NULL, NULL, 'system', json_object('survivor_id', NULL) "
        "FROM golden WHERE status = 'retired' AND survivor_id IS NULL AND updated_at = ?",
        [event_id, now, now],
    )
    # The retired rows and the active ones left as they were, as they are, and every
    # one derived again: a new table.
    kept = (
        "status <> 'active' OR golden_id NOT IN (SELECT golden_id FROM golden_changed)"
        if only_changed
        else "status <> 'active'"
    )
    values = ", ".join(selected.get(a, "NULL") for a in ATTRIBUTES)
    replace_table(
        con,
        "golden",
        f"({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM golden WHERE {kept} "
        f"UNION ALL SELECT golden_id, 'active', NULL, coalesce(g.created_at, ?), ?, m.n, "
        f"{values}, m.extra FROM golden_members m LEFT JOIN golden_created g USING (golden_id) "
        f"{' '.join(joins)}",
        [now, now],
    )


def _log_bulk_changes(con: duckdb.DuckDBPyConnection, run_id: int, now: datetime) -> None:
    """Events for the golden records this run created or changed (which attributes),
    against the snapshot taken before it wrote them, and the values behind them (old
    and new, in ``event_values``)."""
    changed = ", ".join(
        f"CASE WHEN g.{a} IS DISTINCT FROM b.{a} THEN '{a}' END" for a in ATTRIBUTES
    )
    event_id = next_id(con, "events", "event_id")
    con.execute(
        f"INSERT INTO events SELECT ? + row_number() OVER (ORDER BY golden_id) - 1, ?, kind, "
        "golden_id, NULL, NULL, 'system', detail FROM (SELECT g.golden_id, CASE WHEN "
        "b.golden_id IS NULL THEN 'golden_created' ELSE 'golden_changed' END AS kind, "
        "CASE WHEN b.golden_id IS NULL THEN json_object('run_id', ?, 'record_count', "
        f"g.record_count) ELSE json_object('run_id', ?, 'attributes', list_filter([{changed}], "
        "lambda x: x IS NOT NULL)) END AS detail, b.golden_id IS NULL OR "
        f"len(list_filter([{changed}], lambda x: x IS NOT NULL)) > 0 AS differs "
        "FROM golden g LEFT JOIN golden_before b USING (golden_id) WHERE g.status = 'active') "
        "WHERE differs",
        [event_id, now, run_id, run_id],
    )
    # The values behind each golden_changed event, for the record's history.
    con.execute(
        "INSERT INTO event_values "
        + " UNION ALL ".join(
            f"SELECT e.event_id, e.golden_id, '{a}', b.{a}::VARCHAR, g.{a}::VARCHAR "
            "FROM events e JOIN golden g USING (golden_id) JOIN golden_before b "
            f"USING (golden_id) WHERE e.event_id >= $first AND e.kind = 'golden_changed' "
            f"AND g.status = 'active' AND g.{a} IS DISTINCT FROM b.{a}"
            for a in ATTRIBUTES
        ),
        {"first": event_id},
    )
    con.execute("DROP TABLE IF EXISTS golden_before")


# --- real time: golden records derived in process -------------------------------------


class DerivedRow(Protocol):
    """What :func:`write_change_golden` reads of a change set's golden record
    (:class:`mdm.store.changes.GoldenRow`)."""

    @property
    def status(self) -> str: ...
    @property
    def survivor_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def record_count(self) -> int: ...
    @property
    def values(self) -> Mapping[str, Any]: ...
    @property
    def lineage(self) -> Sequence[tuple[str, Any, str, str, str]]: ...


def read_states(
    con: duckdb.DuckDBPyConnection, ids: Sequence[str]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Status and values of the stored golden records ``ids`` (golden id -> (status,
    attribute -> value)), read before a batch of change sets rewrites them."""
    if not ids:
        return {}
    return {
        row[0]: (row[1], dict(zip(ATTRIBUTES, row[2:], strict=True)))
        for row in con.execute(
            f"SELECT golden_id, status, {', '.join(ATTRIBUTES)} FROM golden "
            "WHERE golden_id IN (SELECT unnest($ids))",
            {"ids": ids},
        ).fetchall()
    }


def write_change_golden(
    con: duckdb.DuckDBPyConnection,
    golden: Mapping[str, DerivedRow],
    stored: Set[str],
    retired: Mapping[str, tuple[str | None, datetime]],
    extras: Mapping[str, str | None],
) -> None:
    """Write a batch of change sets' golden records and retirements (a fixed number of
    statements). ``golden``: golden id -> its row as last derived; ``stored``: ids the
    store may already hold rows of (deleted first, with their lineage); ``retired``:
    golden id -> (survivor, when) for ids whose row is not derived again; ``extras``:
    golden id -> the extras it carries."""
    ids = sorted(golden)
    if ids:
        held = {"ids": sorted(stored & set(ids))}
        if held["ids"]:
            con.execute(
                "DELETE FROM lineage WHERE golden_id IN (SELECT unnest($ids))", held
            ).fetchall()
            con.execute(
                "DELETE FROM golden WHERE golden_id IN (SELECT unnest($ids))", held
            ).fetchall()
        insert_columns(
            con,
            "lineage",
            ("golden_id", "attribute", "value", "source", "record_id", "rule"),
            [(gid, *line) for gid in ids for line in golden[gid].lineage],
        )
        insert_columns(
            con,
            "golden",
            COLUMNS,
            [
                (
                    gid,
                    row.status,
                    row.survivor_id,
                    row.created_at,
                    row.updated_at,
                    row.record_count,
                    *(row.values.get(a) for a in ATTRIBUTES),
                    extras.get(gid),
                )  # fmt: skip
                for gid in ids
                for row in (golden[gid],)
            ],
        )
    gone = sorted(gid for gid in retired if gid not in golden)
    if gone:
        values = ", ".join("(?, ?, ?)" for _ in gone)
        con.execute(
            "UPDATE golden g SET status = 'retired', survivor_id = v.survivor, "
            f"updated_at = v.occurred FROM (VALUES {values}) AS v(golden_id, survivor, occurred) "
            "WHERE g.golden_id = v.golden_id",
            [x for gid in gone for x in (gid, *retired[gid])],
        ).fetchall()


def write_golden_records(
    con: duckdb.DuckDBPyConnection,
    derived: Mapping[str, Survived],
    now: datetime,
    existing: set[str] | None = None,
) -> None:
    """Write golden records derived in process (:func:`mdm.golden.survive`) and their
    lineage, keeping each one's creation time (in the caller's transaction).
    ``existing`` are the ids already in the golden table (updated; the rest inserted)."""
    ids = sorted(derived)
    if not ids:
        return
    existing = existing or set()
    for gid in ids:  # one by one: each is a lookup in the lineage index
        con.execute("DELETE FROM lineage WHERE golden_id = ?", [gid]).fetchall()
    insert_rows(con, "lineage", [(gid, *line) for gid in ids for line in derived[gid].lineage])
    for gid in ids:
        d = derived[gid]
        values = [d.values.get(a) for a in ATTRIBUTES]
        created = now
        if gid in existing:  # DuckDB: a delete and an insert cost less than an UPDATE here
            row = con.execute(
                "DELETE FROM golden WHERE golden_id = ? RETURNING created_at", [gid]
            ).fetchall()
            created = row[0][0] if row else now
        insert_rows(
            con,
            f"golden ({', '.join(COLUMNS)})",
            [(gid, "active", None, created, now, d.record_count, *values, d.extra)],
        )


# --- an erasure -------------------------------------------------------------------------


def blank_erased(con: duckdb.DuckDBPyConnection, ids: Sequence[str], now: datetime) -> None:
    """Empty the golden records ``ids``, which held an erased person's values: every
    attribute, the extras and the lineage go; the id stays, with its status and survivor."""
    blank = ", ".join(f"{a} = NULL" for a in ATTRIBUTES)
    held = {"ids": list(ids)}
    con.execute(
        f"UPDATE golden SET {blank}, extra = NULL, record_count = 0, updated_at = $now "
        "WHERE golden_id IN (SELECT unnest($ids))",
        {**held, "now": now},
    ).fetchall()
    con.execute("DELETE FROM lineage WHERE golden_id IN (SELECT unnest($ids))", held).fetchall()


def apply_overrides(con: duckdb.DuckDBPyConnection) -> None:
    """After a bulk run derived every golden record: the steward's values win, those set
    on a golden record retired into another included (they stay with the id they were
    set on, so an unmerge that brings it back brings them back)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE effective_overrides AS {EFFECTIVE_SQL}").fetchall()
    attributes = [
        row[0]
        for row in con.execute("SELECT DISTINCT attribute FROM effective_overrides").fetchall()
    ]
    for attribute in attributes:
        if attribute not in ATTRIBUTES:
            continue
        con.execute(
            f"UPDATE golden SET {attribute} = o.value FROM effective_overrides o "
            "WHERE o.golden_id = golden.golden_id AND o.attribute = ?",
            [attribute],
        ).fetchall()
    if attributes:
        con.execute(
            "DELETE FROM lineage USING effective_overrides o WHERE lineage.golden_id = "
            "o.golden_id AND lineage.attribute = o.attribute"
        ).fetchall()
        con.execute(
            f"INSERT INTO lineage SELECT golden_id, attribute, value, '{SOURCE}', set_by, "
            f"'{RULE}' FROM effective_overrides"
        ).fetchall()
    con.execute("DROP TABLE IF EXISTS effective_overrides").fetchall()
