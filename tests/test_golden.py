"""Golden ids: stable across runs, older ids survive merges, splits keep the majority."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from mdm.bundled import DEFAULT_SURVIVORSHIP_RULES
from mdm.golden import assign_golden_ids, assign_golden_ids_small, survivors_of_retired
from mdm.schema import ATTRIBUTES


def _members(clusters: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cluster": list(clusters.values()),
            "source": ["crm"] * len(clusters),
            "record_id": list(clusters),
        }
    )


def _xref(golden: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["crm"] * len(golden),
            "record_id": list(golden),
            "golden_id": list(golden.values()),
        }
    )


EMPTY = pd.DataFrame({"source": [], "record_id": [], "golden_id": []})


def test_fresh_ids_are_deterministic_and_distinct() -> None:
    members = _members({"a": 0, "b": 0, "c": 1})
    first = assign_golden_ids(members, EMPTY, {})
    again = assign_golden_ids(members.iloc[::-1], EMPTY, {})
    assert first.to_dict() == again.to_dict()
    assert first[0] != first[1]


def test_same_clusters_keep_their_ids() -> None:
    members = _members({"a": 0, "b": 0, "c": 1})
    ids = assign_golden_ids(members, EMPTY, {})
    previous = _xref({"a": ids[0], "b": ids[0], "c": ids[1]})
    relabelled = _members({"a": 5, "b": 5, "c": 2})
    again = assign_golden_ids(relabelled, previous, {ids[0]: "1", ids[1]: "1"})
    assert again[5] == ids[0] and again[2] == ids[1]


def test_merge_keeps_the_older_id_and_retires_the_other() -> None:
    previous = _xref({"a": "GOLD", "b": "GNEW"})
    members = _members({"a": 0, "b": 0})
    created = {"GOLD": "2020-01-01", "GNEW": "2024-01-01"}
    assigned = assign_golden_ids(members, previous, created)
    assert assigned[0] == "GOLD"
    retired = survivors_of_retired(members, previous, assigned)
    assert retired.to_dict("records") == [{"golden_id": "GNEW", "survivor_id": "GOLD"}]


def test_split_gives_the_id_to_the_majority() -> None:
    previous = _xref({"a": "G1", "b": "G1", "c": "G1"})
    members = _members({"a": 0, "b": 1, "c": 1})
    assigned = assign_golden_ids(members, previous, {"G1": "2020"})
    assert assigned[1] == "G1"
    assert assigned[0] not in ("G1",)
    assert survivors_of_retired(members, previous, assigned).empty


def test_in_process_survivorship_equals_the_bulk_sql(reconciled_db) -> None:
    """mdm.golden.survive (the real-time path) derives every golden record and its lineage
    exactly as the bulk run's SQL did."""
    import json

    import duckdb

    from mdm.golden import survive
    from mdm.rules.survivorship import load_survivorship_rules

    rules = load_survivorship_rules(DEFAULT_SURVIVORSHIP_RULES)
    with duckdb.connect(str(reconciled_db), read_only=True) as con:
        attributes = ", ".join("r." + a for a in ATTRIBUTES)
        records = con.execute(
            f"SELECT x.golden_id, r.source, r.record_id, {attributes}, r.ingested_at, "
            "r.extra::VARCHAR AS extra FROM records r JOIN xref x USING (source, record_id)"
        ).df()
        golden = con.execute(
            f"SELECT golden_id, record_count, extra::VARCHAR AS extra, {', '.join(ATTRIBUTES)} "
            "FROM golden WHERE status = 'active'"
        ).df()
        lineage = con.execute("SELECT * FROM lineage").fetchall()
    records = records.astype(object).where(records.notna(), None)
    golden = golden.astype(object).where(golden.notna(), None).set_index("golden_id")
    expected_lineage: dict[str, set] = {}
    for row in lineage:
        expected_lineage.setdefault(row[0], set()).add(tuple(row[1:]))
    for golden_id, members in records.groupby("golden_id"):
        derived = survive(members.to_dict("records"), rules)
        stored = golden.loc[golden_id]
        assert derived.record_count == stored["record_count"]
        for attribute in ATTRIBUTES:
            assert derived.values.get(attribute) == stored[attribute], (golden_id, attribute)
        assert set(derived.lineage) == expected_lineage.get(golden_id, set())
        assert json.loads(derived.extra or "null") == json.loads(stored["extra"] or "null")


@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.sampled_from(["crm", "web"]),
            st.integers(0, 9).map(str),
            st.one_of(st.none(), st.sampled_from(["G1", "G2", "G3", "G4"])),
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda m: (m[1], m[2]),
    ),
    st.dictionaries(
        st.sampled_from(["G1", "G2", "G3", "G4"]), st.sampled_from(["2026-01", "2026-02"])
    ),
)
def test_small_assignment_equals_the_bulk_one(rows, created) -> None:
    members = pd.DataFrame(
        {
            "cluster": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "record_id": [r[2] for r in rows],
        }  # fmt: skip
    )
    previous = pd.DataFrame(
        [(r[1], r[2], r[3]) for r in rows if r[3]], columns=["source", "record_id", "golden_id"]
    )
    assigned = assign_golden_ids(members, previous, created)
    retired = survivors_of_retired(members, previous, assigned)
    small, small_retired = assign_golden_ids_small(
        [(r[0], r[1], r[2]) for r in rows], {(r[1], r[2]): r[3] for r in rows if r[3]}, created
    )
    assert small == {int(k): v for k, v in assigned.items()}
    assert small_retired == dict(zip(retired["golden_id"], retired["survivor_id"], strict=True))


def test_a_record_that_founds_cluster_after_cluster_always_gets_a_free_id() -> None:
    """Found by the crash harness: a record split off, merged and sent again dozens of
    times used up every id its digest offered, and the upsert failed with a 500."""
    from mdm.golden import new_golden_id

    taken: set[str] = set()
    for _ in range(200):
        gid = new_golden_id("crash", "W2-1", taken)
        assert gid not in taken and gid.startswith("G") and len(gid) == 13
        taken.add(gid)
    assert new_golden_id("crm", "C-1", set()) == new_golden_id("crm", "C-1", set())  # stable


@given(
    st.dictionaries(
        st.tuples(st.sampled_from(["crm", "web"]), st.text("ab1", min_size=1, max_size=3)),
        st.integers(0, 4),
        min_size=1,
        max_size=12,
    )
)
def test_numbered_records_get_the_ids_unnumbered_ones_get(clusters) -> None:
    """A run passes its records' numbers (``uid``, in (source, record_id) order) to spare
    sorting the texts; the founding record of each cluster, and so its id, is the same."""
    members = pd.DataFrame(
        [(cluster, source, record_id) for (source, record_id), cluster in clusters.items()],
        columns=["cluster", "source", "record_id"],
    )
    numbered = members.sort_values(["source", "record_id"]).reset_index(drop=True)
    numbered["uid"] = range(len(numbered))
    shuffled = numbered.iloc[::-1]
    expected = assign_golden_ids(members, EMPTY, {}).to_dict()
    assert assign_golden_ids(shuffled, EMPTY, {}).to_dict() == expected
    assert assign_golden_ids(shuffled.drop(columns="uid"), EMPTY, {}).to_dict() == expected


def _in_duckdb(members: pd.DataFrame, previous: pd.DataFrame, created: dict[str, str]):
    """assign_run_golden_ids on these frames: cluster -> golden id, and the retired."""
    import duckdb

    from mdm.bulk.write import assign_run_golden_ids

    with duckdb.connect() as con:
        con.register("m", members)
        con.register("p", previous.astype({"golden_id": object}))
        con.register(
            "c", pd.DataFrame({"golden_id": list(created), "created": list(created.values())})
        )
        retired = assign_run_golden_ids(
            con,
            "SELECT uid, cluster, source, record_id FROM m",
            "SELECT source, record_id, golden_id FROM p",
            "SELECT golden_id::VARCHAR AS golden_id, created::VARCHAR AS created FROM c",
        )
        rows = con.execute(
            "SELECT DISTINCT m.cluster, g.golden_id FROM run_golden g JOIN m USING (uid)"
        ).fetchall()
    return dict(rows), retired


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from(["crm", "web", "pos"]),
            st.integers(0, 9).map(str),
            st.one_of(st.none(), st.sampled_from(["G1", "G2", "G3", "G4", "G5"])),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda m: (m[1], m[2]),
    ),
    st.dictionaries(
        st.sampled_from(["G1", "G2", "G3", "G4", "G5"]), st.sampled_from(["2026-01", "2026-02"])
    ),
    st.booleans(),
)
def test_the_runs_assignment_in_duckdb_equals_the_pandas_one(rows, created, clash) -> None:
    """A bulk run assigns its ids in DuckDB (mdm.bulk.write.assign_run_golden_ids): the
    same id for every cluster and the same survivors as assign_golden_ids and
    survivors_of_retired, also when a new cluster's first id is already taken."""
    from mdm.golden import new_golden_id

    rows = sorted(rows, key=lambda r: (r[1], r[2]))
    members = pd.DataFrame(
        {
            "uid": range(len(rows)),
            "cluster": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "record_id": [r[2] for r in rows],
        }
    )
    previous = pd.DataFrame(
        [(r[1], r[2], r[3]) for r in rows if r[3]], columns=["source", "record_id", "golden_id"]
    )
    if clash:  # an id issued before is the first one the first record's digest offers
        created = {**created, new_golden_id(rows[0][1], rows[0][2], set()): "2025-12"}
    assigned = assign_golden_ids(members, previous, created)
    retired = survivors_of_retired(members, previous, assigned)
    ids, sql_retired = _in_duckdb(members, previous, created)
    assert ids == {int(k): v for k, v in assigned.items()}
    assert sql_retired.to_dict("records") == retired.to_dict("records")


def test_the_runs_assignment_retires_an_id_to_where_most_of_its_records_went() -> None:
    """G2 is split between two clusters that keep older ids: it retires into G3, which
    holds two of its records, not G1, which holds one."""
    members = pd.DataFrame(
        {
            "uid": range(5),
            "cluster": [0, 0, 1, 1, 1],
            "source": ["crm"] * 5,
            "record_id": ["a", "b", "c", "d", "e"],
        }
    )
    previous = _xref({"a": "G1", "b": "G2", "c": "G2", "d": "G2", "e": "G3"})
    created = {"G1": "2020", "G2": "2026", "G3": "2020"}
    ids, retired = _in_duckdb(members, previous, created)
    assert ids == {0: "G1", 1: "G3"}
    assert retired.to_dict("records") == [{"golden_id": "G2", "survivor_id": "G3"}]
    expected = survivors_of_retired(
        members, previous, assign_golden_ids(members, previous, created)
    )
    assert retired.to_dict("records") == expected.to_dict("records")
