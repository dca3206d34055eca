"""Name variants and frequencies kept in the store: seeded, proposed, approved, rejected.

A pair ``(name, variant)`` says ``variant`` is another form of ``name``. A pair is
the same pair in either order: proposing (bob, robert) when (robert, bob) is known
changes nothing. Every change is logged in ``name_variant_events``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from mdm.clock import utcnow as _now
from mdm.errors import RejectedPairError, VariantError
from mdm.linkage.frequencies import LiveFrequencies
from mdm.names import FREQUENCY_COLUMNS
from mdm.names.reference import load_name_variants, normalise_name
from mdm.store.rows import registered, replace_table

KINDS = ("nickname", "spelling", "transliteration")
STATUSES = ("proposed", "active", "rejected")


def _clean(name: str, what: str) -> str:
    cleaned = normalise_name(name)
    if not cleaned:
        raise VariantError(
            f"{what} {name!r} has no letters once accents and scripts are folded to ASCII; "
            "give the name in Latin letters (e.g. 'Jose' for 'José')"
        )
    return cleaned


def _log(
    con: duckdb.DuckDBPyConnection,
    name: str,
    variant: str,
    action: str,
    actor: str,
    **detail: Any,
) -> None:
    row = con.execute("SELECT coalesce(max(event_id), 0) + 1 FROM name_variant_events").fetchall()
    con.execute(
        "INSERT INTO name_variant_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        [row[0][0], _now(), name, variant, action, actor, json.dumps(detail)],
    ).fetchall()


def seed_variants(con: duckdb.DuckDBPyConnection) -> int:
    """Load the reference seed pairs as active (once; a store that has them is left alone)."""
    if con.execute("SELECT count(*) FROM name_variants").fetchall()[0][0]:
        return 0
    seed = load_name_variants()
    now = _now()
    frame = pd.DataFrame(
        {
            "name": seed["name"],
            "variant": seed["variant"],
            "kind": seed["kind"],
            "origin": "seed",
            "reference": seed["origin"],
            "evidence": 0,
            "status": "active",
            "first_seen": now,
            "last_seen": now,
        }
    ).drop_duplicates(["name", "variant"])
    con.register("seed_frame", frame)
    con.execute("INSERT INTO name_variants SELECT * FROM seed_frame").fetchall()
    con.unregister("seed_frame")
    return len(frame)


def _find(con: duckdb.DuckDBPyConnection, a: str, b: str) -> tuple[Any, ...] | None:
    rows = con.execute(
        "SELECT name, variant, status, origin FROM name_variants "
        "WHERE (name = ? AND variant = ?) OR (name = ? AND variant = ?)",
        [a, b, b, a],
    ).fetchall()
    return rows[0] if rows else None


def _pair(name: str, variant: str) -> tuple[str, str]:
    a, b = _clean(name, "name"), _clean(variant, "variant")
    if a == b:
        raise VariantError(
            "the name and the variant are the same name once folded (case, accents, "
            "spaces); "
            "a variant must be a different name"
        )
    return a, b


def propose(con: duckdb.DuckDBPyConnection, name: str, variant: str, kind: str, actor: str) -> str:
    """Propose a pair for review; returns what happened."""
    if kind not in KINDS:
        raise VariantError(f"kind must be one of {', '.join(KINDS)}, not '{kind}'")
    a, b = _pair(name, variant)
    found = _find(con, a, b)
    if found is not None:
        if found[2] == "rejected":
            raise RejectedPairError(
                f"'{found[0]}' ~ '{found[1]}' was rejected; a rejected pair is not proposed "
                f"again: approve it explicitly ('mdm names approve {found[0]} {found[1]}')"
            )
        return f"'{found[0]}' ~ '{found[1]}' is already {found[2]}"
    now = _now()
    con.execute(
        "INSERT INTO name_variants VALUES (?, ?, ?, 'steward', NULL, 0, 'proposed', ?, ?)",
        [a, b, kind, now, now],
    ).fetchall()
    _log(con, a, b, "proposed", actor, kind=kind)
    return f"proposed '{a}' ~ '{b}' ({kind})"


def decide(
    con: duckdb.DuckDBPyConnection, name: str, variant: str, approve: bool, actor: str
) -> str:
    """Approve (make active) or reject a pair; an unknown pair is created as decided."""
    a, b = _pair(name, variant)
    status = "active" if approve else "rejected"
    found = _find(con, a, b)
    now = _now()
    if found is None:
        con.execute(
            "INSERT INTO name_variants VALUES (?, ?, 'nickname', 'steward', NULL, 0, ?, ?, ?)",
            [a, b, status, now, now],
        ).fetchall()
        key = (a, b)
    else:
        key = (found[0], found[1])
        con.execute(
            "UPDATE name_variants SET status = ?, last_seen = ?, "
            "evidence = evidence + CASE WHEN ? THEN 0 ELSE -1 END WHERE name = ? AND variant = ?",
            [status, now, approve, *key],
        ).fetchall()
    _log(con, *key, "approved" if approve else "rejected", actor)
    return f"'{key[0]}' ~ '{key[1]}' is now {status}"


def list_variants(
    con: duckdb.DuckDBPyConnection,
    status: str | None = None,
    origin: str | None = None,
    text: str | None = None,
    limit: int = 100,
) -> pd.DataFrame:
    """Pairs, filtered by status, origin or a name fragment; most evidence first, each
    with what it looks like (``looks_like``: typo, nickname or unlikely)."""
    if status is not None and status not in STATUSES:
        raise VariantError(f"status must be one of {', '.join(STATUSES)}, not '{status}'")
    where, params = ["true"], []
    if status:
        where.append("status = ?")
        params.append(status)
    if origin:
        where.append("origin = ?")
        params.append(origin)
    if text is not None:
        fragment = _clean(text, "search text")
        where.append("(contains(name, ?) OR contains(variant, ?))")
        params += [fragment, fragment]
    return con.execute(
        "SELECT name, variant, kind, origin, reference, evidence, status, first_seen, last_seen, "
        f"{looks_like_sql('name', 'variant')} AS looks_like "
        f"FROM name_variants WHERE {' AND '.join(where)} "
        "ORDER BY evidence DESC, name, variant LIMIT ?",
        [*params, limit],
    ).df()


def proposal_evidence(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    """Per proposed pair (name, variant): the people (golden ids) whose records used
    both names, the evidence a steward weighs."""
    people: dict[tuple[str, str], list[str]] = {}
    for name, variant, golden_id in con.execute(
        "SELECT name, variant, golden_id FROM name_variant_evidence e "
        "WHERE (name, variant) IN (SELECT name, variant FROM name_variants "
        "WHERE status = 'proposed') ORDER BY 1, 2, 3"
    ).fetchall():
        people.setdefault((name, variant), []).append(golden_id)
    return people


def supporting_records(
    con: duckdb.DuckDBPyConnection, wanted: dict[tuple[str, str], list[str]]
) -> dict[tuple[tuple[str, str], str], tuple[dict[str, Any], dict[str, Any]]]:
    """For each proposed pair (name, variant) and a person (golden id) supporting it:
    one of the person's records using the name and one using the variant, side by side
    (source, record_id, first_name, last_name, date_of_birth, postcode); a person whose
    records no longer hold both names is left out."""
    people = sorted({g for ids in wanted.values() for g in ids})
    names = sorted({n for pair in wanted for n in pair})
    if not people or not names:
        return {}
    rows = con.execute(
        "SELECT x.golden_id, r.source, r.record_id, r.first_name, r.last_name, "
        "r.date_of_birth, r.postcode FROM xref x JOIN records r USING (source, record_id) "
        f"WHERE x.golden_id IN ({', '.join('?' for _ in people)}) "
        f"AND r.first_name IN ({', '.join('?' for _ in names)}) ORDER BY 1, 2, 3",
        [*people, *names],
    ).fetchall()
    columns = ("source", "record_id", "first_name", "last_name", "date_of_birth", "postcode")
    using: dict[tuple[str, str], dict[str, Any]] = {}
    for golden_id, *values in rows:
        record = dict(zip(columns, values, strict=True))
        using.setdefault((golden_id, record["first_name"]), record)
    found: dict[tuple[tuple[str, str], str], tuple[dict[str, Any], dict[str, Any]]] = {}
    for pair, ids in wanted.items():
        for golden_id in ids:
            left, right = using.get((golden_id, pair[0])), using.get((golden_id, pair[1]))
            if left is not None and right is not None:
                found[(pair, golden_id)] = (left, right)
    return found


def active_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The pairs matching uses: every active one."""
    return [
        (name, variant)
        for name, variant in con.execute(
            "SELECT name, variant FROM name_variants WHERE status = 'active' ORDER BY 1, 2"
        ).fetchall()
    ]


def count_names_sql(table: str, columns: set[str] | None = None) -> str:
    """SELECT kind, name, count: how often each first and last name occurs in ``table``
    (of the name columns it has, when ``columns`` lists them)."""
    parts = [
        f"SELECT '{kind}' AS kind, {column} AS name, count(*) AS count FROM {table} "
        f"WHERE {column} IS NOT NULL GROUP BY {column}"
        for kind, column in FREQUENCY_COLUMNS.items()
        if columns is None or column in columns
    ]
    empty = "SELECT NULL::VARCHAR AS kind, NULL::VARCHAR AS name, 0::BIGINT AS count LIMIT 0"
    return " UNION ALL ".join(parts or [f"({empty})"])


def refresh_frequencies(con: duckdb.DuckDBPyConnection, counted: str = "records") -> None:
    """Replace the frequency table with the counts over ``counted`` (default: the store's
    records; a bulk run passes the counts it already made over the same records), as a
    new table: most of a re-run's names are the keys it held
    (:func:`~mdm.store.rows.replace_table`)."""
    source = counted if counted != "records" else f"({count_names_sql('records')})"
    replace_table(con, "name_frequencies", f"SELECT kind, name, count FROM {source}")


def name_frequencies(
    con: duckdb.DuckDBPyConnection, kind: str, text: str | None = None, limit: int = 100
) -> tuple[pd.DataFrame, int]:
    """(kind, name, count, share) of the commonest first or last names (containing
    ``text`` if given), and the number of records with a name of that kind."""
    if kind not in FREQUENCY_COLUMNS:
        raise VariantError(f"kind must be 'first' or 'last', not '{kind}'")
    where, params = "kind = ?", [kind]
    if text is not None:
        where += " AND contains(name, ?)"
        params.append(_clean(text, "search text"))
    total = con.execute(
        "SELECT coalesce(sum(count), 0) FROM name_frequencies WHERE kind = ?", [kind]
    ).fetchall()[0][0]
    frame = con.execute(
        f"SELECT kind, name, count, count / greatest(?, 1) AS share FROM name_frequencies "
        f"WHERE {where} ORDER BY count DESC, name LIMIT ?",
        [total, *params, limit],
    ).df()
    return frame, int(total)


def term_frequency_sql(column: str, frequencies: str = "name_frequencies") -> str | None:
    """SELECT <column>, tf_<column>: each name's share of the records that have one, from a
    frequency table (kind, name, count); the lookup splink's term-frequency adjustment and
    the real-time scorer both read. None when ``column`` is not a counted name column."""
    kinds = {column: kind for kind, column in FREQUENCY_COLUMNS.items()}
    if column not in kinds:
        return None
    return (
        f'SELECT name AS "{column}", count / sum(count) OVER () AS "tf_{column}" '
        f"FROM {frequencies} WHERE kind = '{kinds[column]}'"
    )


#: Two first names are plausibly one name (a nickname, a short form, a spelling) when
#: they begin with the same letter and are at least this Jaro-Winkler-similar
#: (Katherine ~ Kasia 0.64, Jim ~ James 0.69), or differ in the first letter only
#: (:data:`PLAUSIBLE_TAIL`: Catherine ~ Katherine, Christina ~ Kristina, Jeff ~ Geoff).
#: Forms that share neither (Bob ~ Robert, Jack ~ John) come from the reference list,
#: not from evidence: Hannah ~ Kimberly or Malcolm ~ Catherine on two linked records is
#: a data error, not a name pair.
PLAUSIBLE_SIMILARITY = 0.6
PLAUSIBLE_TAIL = 0.8


def plausible_sql(a: str, b: str) -> str:
    """SQL: whether first names ``a`` and ``b`` (expressions) are plausibly one name."""
    return (
        f"((left({a}, 1) = left({b}, 1) "
        f"AND jaro_winkler_similarity({a}, {b}) >= {PLAUSIBLE_SIMILARITY}) "
        f"OR jaro_winkler_similarity(substr({a}, 2), substr({b}, 2)) >= {PLAUSIBLE_TAIL})"
    )


def looks_like_sql(a: str, b: str, max_similarity: float = 0.9) -> str:
    """SQL: what a pair of first names looks like to a steward: "typo" (one edit apart
    or more similar than ``max_similarity``), "nickname" (plausibly one name), else
    "unlikely" (probably two different names)."""
    return (
        f"CASE WHEN damerau_levenshtein({a}, {b}) <= 1 "
        f"OR jaro_winkler_similarity({a}, {b}) >= {max_similarity} THEN 'typo' "
        f"WHEN {plausible_sql(a, b)} THEN 'nickname' ELSE 'unlikely' END"
    )


def _differing_names_sql(pairs_sql: str, max_similarity: float) -> str:
    """SELECT name, variant, golden_id: the first-name pairs of ``pairs_sql`` that could be
    name variants. Typos (one edit apart, or more similar than ``max_similarity``), names
    already sharing a variant key, initials, swapped names and names that are not
    plausibly one name (:data:`PLAUSIBLE_SIMILARITY`) are not."""
    return (
        "SELECT DISTINCT least(first_l, first_r) AS name, greatest(first_l, first_r) AS variant, "
        f"golden_id FROM ({pairs_sql}) WHERE first_l <> first_r AND length(first_l) > 1 "
        "AND length(first_r) > 1 AND NOT coalesce(list_has_any(variants_l, variants_r), false) "
        f"AND jaro_winkler_similarity(first_l, first_r) < {max_similarity} "
        "AND damerau_levenshtein(first_l, first_r) > 1 "
        "AND first_l IS DISTINCT FROM last_r AND first_r IS DISTINCT FROM last_l "
        "AND first_l IS DISTINCT FROM middle_r AND first_r IS DISTINCT FROM middle_l "
        f"AND {plausible_sql('first_l', 'first_r')}"
    )


#: Evidence of a pair: the people confirming it, less the decisions against it.
_EVIDENCE_SQL = (
    "(SELECT count(*) FROM name_variant_evidence e WHERE e.name = {t}.name AND "
    "e.variant = {t}.variant) - (SELECT count(*) FROM name_variant_disputes d "
    "WHERE d.name = {t}.name AND d.variant = {t}.variant)"
)


def learn_from_links(
    con: duckdb.DuckDBPyConnection,
    pairs_sql: str,
    run_id: int | None,
    confirmations: int,
    max_similarity: float,
    *,
    actor: str = "system",
    decision_id: int | None = None,
) -> dict[str, int]:
    """Record the name pairs that confident links (or a steward's "same person") confirm;
    activate the pairs whose evidence reaches ``confirmations``.

    ``pairs_sql`` selects ``first_l, first_r, middle_l, middle_r, last_l, last_r,
    variants_l, variants_r, golden_id`` for linked record pairs in one cluster.
    Rejected pairs are never touched; pairs already known are left as they are.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE learned AS " + _differing_names_sql(pairs_sql, max_similarity)
    ).fetchall()
    con.execute(
        "DELETE FROM learned WHERE EXISTS (SELECT 1 FROM name_variants v WHERE "
        "(v.name = learned.name AND v.variant = learned.variant) OR "
        "(v.name = learned.variant AND v.variant = learned.name)) AND NOT EXISTS ("
        "SELECT 1 FROM name_variants v WHERE v.origin = 'learned' AND v.status = 'proposed' "
        "AND v.name = learned.name AND v.variant = learned.variant)"
    ).fetchall()
    con.execute(
        "INSERT OR IGNORE INTO name_variant_evidence SELECT name, variant, golden_id, ? "
        "FROM learned",
        [run_id],
    ).fetchall()
    now = _now()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE learned_counts AS SELECT l.name, l.variant, "
        f"{_EVIDENCE_SQL.format(t='l')} AS people FROM (SELECT DISTINCT name, variant "
        "FROM learned) l"
    ).fetchall()
    con.execute(
        "INSERT INTO name_variants SELECT c.name, c.variant, 'nickname', 'learned', NULL, "
        "c.people, 'proposed', ?, ? FROM learned_counts c WHERE NOT EXISTS (SELECT 1 FROM "
        "name_variants v WHERE v.name = c.name AND v.variant = c.variant)",
        [now, now],
    ).fetchall()
    con.execute(
        "UPDATE name_variants v SET evidence = c.people, last_seen = ?, status = CASE "
        "WHEN c.people >= ? THEN 'active' ELSE v.status END FROM learned_counts c "
        "WHERE v.name = c.name AND v.variant = c.variant AND v.origin = 'learned' "
        "AND v.status = 'proposed'",
        [now, confirmations],
    ).fetchall()
    start = con.execute(
        "SELECT coalesce(max(event_id), 0) + 1 FROM name_variant_events"
    ).fetchall()[0][0]
    con.execute(
        "INSERT INTO name_variant_events SELECT ? + row_number() OVER (ORDER BY c.name, "
        "c.variant) - 1, ?, c.name, c.variant, CASE WHEN v.status = 'active' THEN 'activated' "
        "ELSE 'confirmed' END, ?, json_object('people', c.people, 'run_id', ?, "
        "'decision_id', ?) FROM learned_counts c JOIN name_variants v USING (name, variant)",
        [start, now, actor, run_id, decision_id],
    ).fetchall()
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE v.status = 'active') FROM learned_counts c "
        "JOIN name_variants v USING (name, variant)"
    ).fetchall()[0]
    return {"confirmed": int(counts[0]), "active": int(counts[1])}


def dispute(
    con: duckdb.DuckDBPyConnection,
    pairs_sql: str,
    decision_id: int,
    max_similarity: float,
    actor: str,
) -> list[tuple[str, str]]:
    """Count a steward's "not the same person" against the first-name pairs of
    ``pairs_sql`` (same columns as :func:`learn_from_links`): a proposal loses one unit of
    evidence. Active and rejected pairs keep their status (a steward decides those).
    Returns the disputed pairs."""
    found = con.execute(_differing_names_sql(pairs_sql, max_similarity)).fetchall()
    disputed = sorted({(name, variant) for name, variant, _ in found})
    now = _now()
    for name, variant in disputed:
        con.execute(
            "INSERT OR IGNORE INTO name_variant_disputes VALUES (?, ?, ?)",
            [name, variant, decision_id],
        ).fetchall()
        con.execute(
            f"UPDATE name_variants v SET evidence = {_EVIDENCE_SQL.format(t='v')}, "
            "last_seen = ? WHERE v.name = ? AND v.variant = ? AND v.status = 'proposed'",
            [now, name, variant],
        ).fetchall()
        _log(con, name, variant, "disputed", actor, decision_id=decision_id)
    return disputed


_KIND_OF = {column: kind for kind, column in FREQUENCY_COLUMNS.items()}


def live_term_frequencies(
    con: duckdb.DuckDBPyConnection, columns: Iterable[str], records: str = "records"
) -> dict[str, LiveFrequencies]:
    """column -> its live frequencies: names from ``name_frequencies``, any other column
    counted over ``records``."""
    lookup: dict[str, LiveFrequencies] = {}
    for column in columns:
        if column in _KIND_OF:
            sql = "SELECT name, count FROM name_frequencies WHERE kind = ?"
            params = [_KIND_OF[column]]
        else:
            sql = (
                f'SELECT "{column}", count(*) FROM {records} WHERE "{column}" IS NOT NULL '
                "GROUP BY 1"
            )
            params = []
        lookup[column] = LiveFrequencies(dict(con.execute(sql, params).fetchall()))
    return lookup


def count_names(con: duckdb.DuckDBPyConnection, steps: Mapping[tuple[str, str], int]) -> None:
    """Keep ``name_frequencies`` in step: add each (kind, name)'s change in count."""
    steps = {name: step for name, step in sorted(steps.items()) if step}
    if not steps:
        return
    frame = pa.table(
        {
            "kind": pa.array([kind for kind, _ in steps], pa.string()),
            "name": pa.array([name for _, name in steps], pa.string()),
            "count": pa.array(list(steps.values()), pa.int64()),
        }
    )
    # One statement for any number of names: add new ones, count on known ones.
    with registered(con, "_changed_names", frame):
        con.execute(
            "INSERT INTO name_frequencies SELECT kind, name, count FROM _changed_names "
            "ON CONFLICT (kind, name) DO UPDATE SET count = count + excluded.count"
        ).fetchall()
    if any(step < 0 for step in steps.values()):
        con.execute("DELETE FROM name_frequencies WHERE count <= 0").fetchall()
