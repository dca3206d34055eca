"""Review tasks and steward decisions.

A review task is a pair of source records the engine scored in the review band: not
sure enough to link, not sure enough to keep apart. A steward decides it; the decision
is kept as data (what, who, when) in ``decisions``, and feeds the name variants: "same
person" confirms the pair's first names as variants of each other, "not the same
person" counts against them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from mdm.clock import utcnow as _now
from mdm.errors import ReviewError, TaskClosedError, TaskNotFoundError
from mdm.linkage.features import VARIANT_COLUMNS, record_variant_keys
from mdm.names.reference import build_variant_groups, normalise_name
from mdm.rules.match import Learning
from mdm.store.events import log_event
from mdm.store.names import active_pairs, dispute, learn_from_links
from mdm.store.names import decide as decide_names
from mdm.store.records import write_variant_keys
from mdm.store.review import mark_decided, rescore_task

TASK_STATUSES = ("open", "decided", "linked", "withdrawn")
#: The statuses the engine sets (and may change again when it re-scores a task).
ENGINE_STATUSES = ("open", "linked", "withdrawn")


class Decision(enum.StrEnum):
    """What a steward says about a pair of records."""

    SAME = "same"
    DIFFERENT = "different"
    SKIP = "skip"


@dataclass(frozen=True)
class DecisionResult:
    """What a decision did."""

    decision_id: int
    task_id: int
    decision: Decision
    names_confirmed: int
    names_disputed: list[tuple[str, str]]

    def message(self) -> str:
        """One line for a person."""
        said = {
            Decision.SAME: "the same person",
            Decision.DIFFERENT: "not the same person",
            Decision.SKIP: "skipped (left open)",
        }[self.decision]
        text = f"task {self.task_id}: {said} (decision {self.decision_id})"
        if self.names_confirmed:
            text += f"; confirmed {self.names_confirmed} name pair(s) as variants"
        if self.names_disputed:
            pairs = ", ".join(f"{a} ~ {b}" for a, b in self.names_disputed)
            text += f"; counted against {pairs}"
        return text


def list_tasks(
    con: duckdb.DuckDBPyConnection, status: str | None = "open", limit: int = 50
) -> pd.DataFrame:
    """Review tasks (most probable first) with the two records' names side by side."""
    if status is not None and status not in TASK_STATUSES:
        raise ReviewError(f"status must be one of {', '.join(TASK_STATUSES)}, not '{status}'")
    where = "WHERE t.status = ?" if status else "WHERE ? IS NULL"
    return con.execute(
        "SELECT t.task_id, t.status, t.match_probability, t.match_weight, "
        "t.source_l, t.record_id_l, concat_ws(' ', l.first_name, l.last_name) AS name_l, "
        "t.source_r, t.record_id_r, concat_ws(' ', r.first_name, r.last_name) AS name_r "
        "FROM review_tasks t "
        "LEFT JOIN records l ON l.source = t.source_l AND l.record_id = t.record_id_l "
        "LEFT JOIN records r ON r.source = t.source_r AND r.record_id = t.record_id_r "
        f"{where} ORDER BY t.match_probability DESC, t.task_id LIMIT ?",
        [status, limit],
    ).df()


def _pair_names_sql(task_id: int) -> str:
    """The columns name learning reads, for the two records of a task (see
    :func:`mdm.store.names.learn_from_links`); the person is the left record's."""
    return (
        "SELECT l.first_name AS first_l, r.first_name AS first_r, l.middle_name AS middle_l, "
        "r.middle_name AS middle_r, l.last_name AS last_l, r.last_name AS last_r, "
        "l.first_name_variants AS variants_l, r.first_name_variants AS variants_r, "
        "coalesce(t.golden_id_l, t.golden_id_r) AS golden_id FROM review_tasks t "
        "JOIN records l ON l.source = t.source_l AND l.record_id = t.record_id_l "
        f"JOIN records r ON r.source = t.source_r AND r.record_id = t.record_id_r "
        f"WHERE t.task_id = {int(task_id)}"
    )


def decide(
    con: duckdb.DuckDBPyConnection,
    task_id: int,
    decision: Decision | str,
    actor: str,
    learning: Learning,
    note: str | None = None,
) -> DecisionResult:
    """Record a steward's decision on an open task (inside the caller's transaction).

    "same" and "different" close the task; "skip" records that the steward passed and
    leaves it open. Deciding a task that is not open is refused.
    """
    try:
        decision = Decision(decision)
    except ValueError:
        allowed = ", ".join(d.value for d in Decision)
        raise ReviewError(f"decision must be one of {allowed}, not '{decision}'") from None
    if not actor.strip():
        raise ReviewError("say who decides (e.g. --by 'j.smith'); decisions are attributed")
    row = con.execute(
        "SELECT status, source_l, record_id_l, source_r, record_id_r, golden_id_l, "
        "golden_id_r FROM review_tasks WHERE task_id = ?",
        [task_id],
    ).fetchall()
    if not row:
        raise TaskNotFoundError(
            f"there is no review task {task_id}; list them with 'mdm review list'"
        )
    status, *pair, golden_l, golden_r = row[0]
    if status != "open":
        raise TaskClosedError(f"review task {task_id} is {status}, not open; it cannot be decided")
    decision_id = con.execute("SELECT coalesce(max(decision_id), 0) + 1 FROM decisions").fetchall()[
        0
    ][0]
    con.execute(
        "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [decision_id, task_id, *pair, decision.value, actor, _now(), note],
    ).fetchall()
    confirmed, disputed = 0, []
    if decision is Decision.SAME:
        learned = learn_from_links(
            con,
            _pair_names_sql(task_id),
            None,
            learning.confirmations,
            learning.max_similarity,
            actor=actor,
            decision_id=decision_id,
        )
        confirmed = learned["confirmed"]
    elif decision is Decision.DIFFERENT:
        disputed = dispute(
            con, _pair_names_sql(task_id), decision_id, learning.max_similarity, actor
        )
    if decision is not Decision.SKIP:
        mark_decided(con, task_id)
    log_event(
        con,
        _now(),
        "decision_made",
        actor,
        golden_l,
        detail={
            "task_id": task_id,
            "decision_id": decision_id,
            "decision": decision.value,
            "other_golden_id": golden_r,
        },
    )
    return DecisionResult(decision_id, task_id, decision, confirmed, disputed)


@dataclass(frozen=True)
class VariantChange:
    """What approving or rejecting a name pair did."""

    message: str
    records_updated: int
    rescored_tasks: int
    names: set[str] = field(default_factory=set)  # whose records' variant keys may change


def refresh_variant_keys(con: duckdb.DuckDBPyConnection, names: set[str]) -> int:
    """Recompute the variant keys of the store's records whose first or middle name is
    (or has a word that is) one of ``names``, from the active pairs; returns how many
    records changed."""
    groups = build_variant_groups(active_pairs(con))
    changed = 0
    wanted = sorted(names)
    for column in VARIANT_COLUMNS:
        values = [
            row[0]
            for row in con.execute(
                f"SELECT DISTINCT {column} FROM records WHERE {column} IN (SELECT unnest(?)) "
                f"OR list_has_any(string_split({column}, ' '), ?)",
                [wanted, wanted],
            ).fetchall()
        ]
        if not values:
            continue
        keys = pd.DataFrame(
            {"value": values, "keys": [record_variant_keys(v, groups) for v in values]}
        )
        changed += write_variant_keys(con, column, keys)
    return changed


def _touched_tasks(con: duckdb.DuckDBPyConnection, names: list[str]) -> pd.DataFrame:
    """Tasks not decided by a steward where either record has one of ``names`` as (a
    word of) its first or middle name."""
    touches = " OR ".join(
        f"{side}.{column} IN (SELECT unnest($names)) OR "
        f"list_has_any(string_split({side}.{column}, ' '), $names)"
        for side in ("l", "r")
        for column in VARIANT_COLUMNS
    )
    return con.execute(
        "SELECT t.task_id, t.match_probability, t.source_l, t.record_id_l, t.source_r, "
        "t.record_id_r FROM review_tasks t "
        "JOIN records l ON l.source = t.source_l AND l.record_id = t.record_id_l "
        "JOIN records r ON r.source = t.source_r AND r.record_id = t.record_id_r "
        f"WHERE t.status IN ({', '.join(map(repr, ENGINE_STATUSES))}) AND ({touches}) "
        "ORDER BY t.task_id",
        {"names": names},
    ).df()


def records_of(
    con: duckdb.DuckDBPyConnection, tasks: pd.DataFrame
) -> dict[tuple[str, str], dict[str, Any]]:
    """(source, record_id) -> the record's columns, for both sides of ``tasks``."""
    keys = pd.concat(
        [
            tasks[["source_l", "record_id_l"]].set_axis(["source", "record_id"], axis=1),
            tasks[["source_r", "record_id_r"]].set_axis(["source", "record_id"], axis=1),
        ]
    ).drop_duplicates()
    con.register("wanted_records", keys)
    try:
        frame = con.execute(
            "SELECT r.* EXCLUDE (extra, raw) FROM records r "
            "JOIN wanted_records w USING (source, record_id)"
        ).df()
    finally:
        con.unregister("wanted_records")
    return {(row["source"], row["record_id"]): row for row in frame.to_dict("records")}


def rescore_tasks(con: duckdb.DuckDBPyConnection, names: set[str]) -> int:
    """Re-score the undecided review tasks whose records carry one of ``names``, with the
    latest model and the live frequency table. A task now at or above the last run's
    link threshold becomes ``linked`` (the records link on the next reconcile); one
    below the review band is ``withdrawn``. Each change is logged in ``events``.
    Returns how many tasks were re-scored."""
    from mdm.linkage.scorer import Scorer
    from mdm.store.names import live_term_frequencies
    from mdm.store.reads import latest_model
    from mdm.store.tasks import customer_scores

    tasks = _touched_tasks(con, sorted(names))
    if tasks.empty:
        return 0
    records = records_of(con, tasks)
    model = latest_model(con)
    scorer = Scorer(model, live_term_frequencies(con, model.tf_columns))
    link, review = con.execute(
        "SELECT link_threshold, review_threshold FROM runs ORDER BY run_id DESC LIMIT 1"
    ).fetchall()[0]
    now = _now()
    rows = tasks.to_dict("records")
    on_customers = customer_scores(
        con,
        scorer,
        [(r["source_l"], r["record_id_l"], r["source_r"], r["record_id_r"]) for r in rows],
    )
    for row in rows:
        pair = (row["source_l"], row["record_id_l"], row["source_r"], row["record_id_r"])
        left = records[pair[:2]]
        right = records[pair[2:]]
        # The records' own score moves the task (as it opened it); the customers' is
        # what the task shows and keeps (mdm.linkage.customers).
        probability = scorer.score(left, right).match_probability
        status = (
            "linked" if probability >= link else "withdrawn" if probability < review else "open"
        )
        scored = on_customers[pair]
        rescore_task(
            con,
            row["task_id"],
            scored.score.match_weight,
            scored.score.match_probability,
            status,
            scored.scored_on,
        )
        detail = {
            "task_id": int(row["task_id"]),
            "reason": "name variants changed",
            "before": float(row["match_probability"]),
            "after": scored.score.match_probability,
            "status": status,
        }
        log_event(con, now, "task_rescored", "system", None, pair[:2], detail)
    return len(tasks)


def decide_variant(
    con: duckdb.DuckDBPyConnection, name: str, variant: str, approve: bool, actor: str
) -> VariantChange:
    """Approve or reject a name pair and let it take effect at once: the records with
    either name get new variant keys, and the open review tasks between them are
    re-scored (inside the caller's transaction)."""
    message = decide_names(con, name, variant, approve=approve, actor=actor)
    names = {normalise_name(name), normalise_name(variant)}
    updated = refresh_variant_keys(con, names)
    rescored = rescore_tasks(con, names)
    return VariantChange(message, updated, rescored, names)
