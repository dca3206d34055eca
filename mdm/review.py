"""Review tasks and steward decisions.

A review task is a pair of source records the engine scored in the review band: not
sure enough to link, not sure enough to keep apart. A steward decides it; the decision
is kept as data (what, who, when) in ``decisions``, and feeds the name variants: "same
person" confirms the pair's first names as variants of each other, "not the same
person" counts against them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from mdm.errors import ReviewError
from mdm.names.store import dispute, learn_from_links
from mdm.rules.match import Learning

TASK_STATUSES = ("open", "decided", "linked", "withdrawn")


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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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
    :func:`mdm.names.store.learn_from_links`); the person is the left record's."""
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
        "SELECT status, source_l, record_id_l, source_r, record_id_r FROM review_tasks "
        "WHERE task_id = ?",
        [task_id],
    ).fetchall()
    if not row:
        raise ReviewError(f"there is no review task {task_id}; list them with 'mdm review list'")
    status, *pair = row[0]
    if status != "open":
        raise ReviewError(f"review task {task_id} is {status}, not open; it cannot be decided")
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
        con.execute(
            "UPDATE review_tasks SET status = 'decided' WHERE task_id = ?", [task_id]
        ).fetchall()
    return DecisionResult(decision_id, task_id, decision, confirmed, disputed)
