"""Golden ids: stable across runs, older ids survive merges, splits keep the majority."""

from __future__ import annotations

import pandas as pd

from mdm.golden import assign_golden_ids, survivors_of_retired


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
