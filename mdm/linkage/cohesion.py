"""Clusters that hang together: the pairs inside a cluster that no blocking rule compared.

Linking is transitive. A record holding only "John Smith" links to John Smith born in
1970 and to John Smith born in 1985, and connected components put all three in one
cluster, although the two full records were never compared: the capped name key skips
a name that common. After clustering, every pair inside a cluster of at least three
and at most ``cohere_max_size`` records that was not scored is scored with the model
(the same SQL, the same term frequencies as the run's own pairs), and a pair that is a
clear non-match *and* contradicted on identity (a birth date years apart, where the
model says one person's records seldom differ so) becomes a cannot-link. Clustering
again with those splits the cluster, joining the sparse record to the person it is
most like. A pair that is unlikely only because its records say little stays: two
records of one person with few values in common are why it was not compared.

The real-time engine does the same inside a neighbourhood with its scorer
(:meth:`mdm.realtime.engine.Engine._cluster`).
"""

from __future__ import annotations

import copy
import dataclasses

import duckdb
import numpy as np
import pandas as pd

from mdm.linkage.model import UNIQUE_ID, TrainedModel, predict_pairs

#: The column the records of a cluster share while their pairs are scored.
CLUSTER_COLUMN = "_cohesion_cluster"


def cohesion_candidates(labels: np.ndarray, max_size: int) -> np.ndarray:
    """The records (uids) in clusters of at least 3 and at most ``max_size`` records:
    the clusters whose pairs may not all have been compared (a cluster of two is one
    scored link)."""
    if max_size < 3 or len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = np.bincount(labels)
    wanted = (sizes[labels] >= 3) & (sizes[labels] <= max_size)
    return np.flatnonzero(wanted).astype(np.int64)


def full_term_frequencies(
    con: duckdb.DuckDBPyConnection, table: str, model: TrainedModel, given: dict[str, str]
) -> dict[str, str]:
    """A term-frequency table for each of the model's columns, counted over the whole
    of ``table`` as splink counts them (``given`` ones kept): scoring a subset of the
    records must not count frequencies over the subset."""
    tables = dict(given)
    for column in model.tf_columns:
        if column in tables:
            continue
        name = f"memory.tf_full_{column}"
        con.execute(
            f'CREATE OR REPLACE TABLE {name} AS SELECT "{column}", '
            f'CAST(count(*) AS DOUBLE) / (SELECT count("{column}") FROM {table}) '
            f'AS "tf_{column}" FROM {table} WHERE "{column}" IS NOT NULL GROUP BY 1'
        ).fetchall()
        tables[column] = name
    return tables


def unscored_pairs_within(
    con: duckdb.DuckDBPyConnection,
    table: str,
    model: TrainedModel,
    labels: np.ndarray,
    scored: str,
    tf_tables: dict[str, str],
    max_size: int,
) -> pd.DataFrame:
    """The pairs inside clusters (``labels``, per uid) of 3 to ``max_size`` records that
    are not in ``scored`` (uid_l < uid_r), scored by ``model``: columns uid_l, uid_r,
    match_weight, match_probability."""
    members = cohesion_candidates(labels, max_size)
    empty = pd.DataFrame(
        {"uid_l": [], "uid_r": [], "match_weight": [], "match_probability": []}
    ).astype({"uid_l": "int64", "uid_r": "int64"})
    if len(members) == 0:
        return empty
    frame = pd.DataFrame({"uid": members, CLUSTER_COLUMN: labels[members]})
    con.register("cohesion_members", frame)
    try:
        con.execute(
            # A temporary table: kept in memory (spilled past the limit), not written
            # into the run's file and its log.
            f"CREATE OR REPLACE TEMP TABLE cohesion_work AS SELECT w.*, "
            f"m.{CLUSTER_COLUMN} FROM {table} w JOIN cohesion_members m "
            f"ON w.{UNIQUE_ID} = m.uid"
        ).fetchall()
    finally:
        con.unregister("cohesion_members")
    settings = copy.deepcopy(model.settings)
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": f'l."{CLUSTER_COLUMN}" = r."{CLUSTER_COLUMN}"', "sql_dialect": "duckdb"}
    ]
    within = dataclasses.replace(model, settings=settings)
    tables = full_term_frequencies(con, table, model, tf_tables)
    try:
        # Only the pairs not scored already are scored (most pairs within a cluster were).
        predict_pairs(
            con, "cohesion_work", within, "memory.cohesion_scored", tables, exclude=scored
        )
        return con.execute(
            "SELECT uid_l, uid_r, match_weight, match_probability "
            "FROM memory.cohesion_scored ORDER BY 1, 2"
        ).df()
    finally:
        con.execute("DROP TABLE IF EXISTS temp.cohesion_work").fetchall()
        con.execute("DROP TABLE IF EXISTS memory.cohesion_scored").fetchall()
