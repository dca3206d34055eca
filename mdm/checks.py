"""What must hold in every store, checked: ``mdm check`` and the crash harness.

* every source record is in exactly one golden record, and that golden record is
  active; every active golden record has records, as many as it counts;
* a retired golden id leads, through its survivors, to a golden id that exists (an
  active one, or one retired with no survivor when its person was erased), no cycle;
* must-links hold (both records in one golden record) and cannot-links too;
* the event log replays to the tables (:func:`mdm.store.events.replay_differences`);
* no acknowledged real-time write was set aside because it would not go into the
  tables (:func:`mdm.store.journal.replay_journal`);
* with ``full``: each golden record's values are what survivorship and the stewards'
  overrides make of its records (reads every record: slow on large stores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from mdm.schema import ATTRIBUTES
from mdm.store.events import replay_differences
from mdm.store.journal import set_aside_entries

if TYPE_CHECKING:
    from mdm.rules.survivorship import SurvivorshipRules

#: At most this many examples are named per kind of problem.
EXAMPLES = 5


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def store_problems(
    con: duckdb.DuckDBPyConnection,
    survivorship: SurvivorshipRules | None = None,
    *,
    full: bool = False,
) -> list[str]:
    """Every way the store breaks the rules above (an empty list: it holds)."""
    problems = []
    checks = {
        "source records with no golden record": (
            "SELECT count(*) FROM records r ANTI JOIN xref x USING (source, record_id)"
        ),
        "cross-references to records that do not exist": (
            "SELECT count(*) FROM xref x ANTI JOIN records r USING (source, record_id)"
        ),
        "records in more than one golden record": (
            "SELECT count(*) FROM (SELECT source, record_id FROM xref GROUP BY ALL "
            "HAVING count(*) > 1)"
        ),
        "records in a golden record that is not active": (
            "SELECT count(*) FROM xref LEFT JOIN golden g USING (golden_id) "
            "WHERE g.status IS DISTINCT FROM 'active'"
        ),
        "active golden records with no records": (
            "SELECT count(*) FROM golden g WHERE status = 'active' AND NOT EXISTS "
            "(SELECT 1 FROM xref x WHERE x.golden_id = g.golden_id)"
        ),
        "active golden records whose record count is wrong": (
            "SELECT count(*) FROM golden g JOIN (SELECT golden_id, count(*) AS n FROM xref "
            "GROUP BY ALL) x USING (golden_id) WHERE g.status = 'active' AND g.record_count <> x.n"
        ),
        "retired golden ids whose survivors lead nowhere (a missing id or a cycle)": (
            "WITH RECURSIVE chain(origin, reached, depth) AS ("
            "SELECT golden_id, survivor_id, 0 FROM golden WHERE status <> 'active' "
            "AND survivor_id IS NOT NULL UNION ALL SELECT c.origin, g.survivor_id, c.depth + 1 "
            "FROM chain c JOIN golden g ON g.golden_id = c.reached AND g.status <> 'active' "
            "WHERE g.survivor_id IS NOT NULL AND c.depth < 1000) "
            "SELECT count(DISTINCT origin) FROM chain c WHERE (c.depth >= 1000 OR NOT EXISTS "
            "(SELECT 1 FROM golden g WHERE g.golden_id = c.reached)) AND NOT EXISTS (SELECT 1 "
            "FROM chain d WHERE d.origin = c.origin AND d.depth > c.depth)"
        ),
        "must-links broken (the two records are apart)": (
            "SELECT count(*) FROM link_constraints c JOIN xref l ON (l.source, l.record_id) = "
            "(c.source_l, c.record_id_l) JOIN xref r ON (r.source, r.record_id) = "
            "(c.source_r, c.record_id_r) WHERE c.kind = 'must' AND l.golden_id <> r.golden_id"
        ),
        "cannot-links broken (the two records are together)": (
            "SELECT count(*) FROM link_constraints c JOIN xref l ON (l.source, l.record_id) = "
            "(c.source_l, c.record_id_l) JOIN xref r ON (r.source, r.record_id) = "
            "(c.source_r, c.record_id_r) WHERE c.kind = 'cannot' AND l.golden_id = r.golden_id"
        ),
    }
    for what, sql in checks.items():
        found = _count(con, sql)
        if found:
            problems.append(f"{found} {what}")
    differences = replay_differences(con)
    if differences:
        problems.append(
            f"the event log does not replay to the tables ({len(differences)} differences, "
            f"e.g. {differences[:EXAMPLES]})"
        )
    aside = set_aside_entries(con)
    if aside:
        problems.append(
            f"{len(aside)} acknowledged real-time writes could not be written into the "
            "tables and were set aside (in the folder '<store>.journal-set-aside', files "
            f"{', '.join(e['file'] for e in aside[:EXAMPLES])}); report them as a bug"
        )
    if full and survivorship is not None:
        problems += _survivorship_problems(con, survivorship)
    return problems


def _survivorship_problems(
    con: duckdb.DuckDBPyConnection, survivorship: SurvivorshipRules
) -> list[str]:
    from mdm.golden import survive
    from mdm.store.overrides import EFFECTIVE_SQL, overridden

    frame = con.execute(
        "SELECT x.golden_id, r.source, r.record_id, r.updated_at, r.ingested_at, "
        f"r.extra::VARCHAR AS extra, {', '.join('r.' + a for a in ATTRIBUTES)} "
        "FROM records r JOIN xref x USING (source, record_id)"
    ).df()
    members: dict[str, list[dict[str, Any]]] = {}
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        members.setdefault(row["golden_id"], []).append(row)
    stored = {
        row[0]: row[1:]
        for row in con.execute(
            f"SELECT golden_id, record_count, {', '.join(ATTRIBUTES)} FROM golden "
            "WHERE status = 'active'"
        ).fetchall()
    }
    steward: dict[str, dict[str, tuple[str, str]]] = {}
    for golden_id, attribute, value, by in con.execute(EFFECTIVE_SQL).fetchall():
        steward.setdefault(golden_id, {})[attribute] = (value, by)
    wrong = []
    for golden_id, records in members.items():
        derived = overridden(survive(records, survivorship), steward.get(golden_id))
        expected = (derived.record_count, *(derived.values.get(a) for a in ATTRIBUTES))
        if stored.get(golden_id) != expected:
            wrong.append(golden_id)
    if not wrong:
        return []
    return [
        f"{len(wrong)} golden records whose values are not their records' survivorship "
        f"(e.g. {sorted(wrong)[:EXAMPLES]})"
    ]
