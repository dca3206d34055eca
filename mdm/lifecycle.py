"""A steward's operations on golden records: merge, unmerge, and decisions that take
effect at once.

Each is decided by the real-time engine (:class:`mdm.realtime.engine.Engine`): a merge
or an unmerge moves exactly the records named (nothing is re-scored), a "different"
decision re-clusters the golden record with the new cannot-link, and the golden
records involved are derived again. Each is written in the caller's transaction with
the same writer as every real-time change (:func:`mdm.store.changes.apply_changes`).
The CLI builds an engine over the store for one operation; the service uses its own.

The constraints (:mod:`mdm.constraints`) keep the steward's word on later runs: a bulk
reconcile and every real-time upsert honour them.

Errors that say what was wrong with the request (:class:`mdm.errors.MdmError`) are
raised before the engine changes anything; any other failure leaves the engine ahead
of the store, and the caller must build a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from mdm.errors import ConflictError, InputError
from mdm.realtime.engine import Engine
from mdm.realtime.steward import MergeNotConfirmed
from mdm.review import Decision, DecisionResult
from mdm.review import decide as record_decision
from mdm.rules.match import Learning
from mdm.store.changes import apply_changes
from mdm.store.events import prior_ids
from mdm.workbench import claimed_by

Key = tuple[str, str]


def parse_record(text: str) -> Key:
    """``SOURCE/RECORD_ID`` as a record key (the record id may hold slashes)."""
    source, sep, record_id = text.partition("/")
    if not sep or not source or not record_id:
        raise InputError(f"'{text}' is not SOURCE/RECORD_ID (e.g. crm/C-1001)")
    return source, record_id


def _actor(actor: str) -> str:
    if not actor or not actor.strip():
        raise InputError("say who does this (e.g. --by 'j.smith'); steward changes are attributed")
    return actor.strip()


def merge(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    first: str,
    second: str,
    actor: str,
    reason: str | None = None,
    confirmed: bool = False,
) -> dict[str, Any]:
    """Merge golden record ``second`` and ``first`` (the older id survives). Two
    customers the model holds to be different people (even their most alike records
    score below the review band) are merged only ``confirmed``: otherwise
    :class:`~mdm.realtime.steward.MergeNotConfirmed` names the evidence against."""
    who = _actor(actor)
    if not confirmed:
        evidence = engine.merge_evidence(first, second)
        if evidence.strong:
            raise MergeNotConfirmed(evidence)
    result, changes = engine.merge(first, second, who, reason)
    apply_changes(con, [changes])
    return result


def unmerge(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    golden_id: str,
    records: Sequence[Key],
    actor: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """Take ``records`` out of ``golden_id`` into a golden record of their own (their
    prior id, where one can come back)."""
    result, changes = engine.unmerge(
        golden_id, records, _actor(actor), reason, prior_ids(con, golden_id)
    )
    apply_changes(con, [changes])
    return result


def decide(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    task_id: int,
    decision: Decision | str,
    actor: str,
    learning: Learning,
    note: str | None = None,
) -> tuple[DecisionResult, dict[str, Any]]:
    """Record a steward's decision on a review task (refused if another steward has
    taken it) and let it take effect: "same"
    must-links the pair (their golden records merge), "different" cannot-links it
    (they are kept apart, now and on every later run); "skip" changes nothing."""
    holder = claimed_by(con, task_id)
    if holder is not None and holder != actor:
        raise ConflictError(f"review task {task_id} is taken by {holder}")
    result = record_decision(con, task_id, decision, actor, learning, note)
    if result.decision is Decision.SKIP:
        return result, {}
    row = con.execute(
        "SELECT source_l, record_id_l, source_r, record_id_r FROM review_tasks WHERE task_id = ?",
        [task_id],
    ).fetchall()[0]
    kind = "must" if result.decision is Decision.SAME else "cannot"
    effect, changes = engine.constrain(
        (row[0], row[1]), (row[2], row[3]), kind, actor, note or f"review task {task_id}"
    )
    apply_changes(con, [changes])
    return result, effect
