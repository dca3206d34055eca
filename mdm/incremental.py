"""Incremental batches: new and changed records matched against the golden master.

A nightly extract usually holds a few thousand new or changed records, not the whole
customer base. :func:`reconcile_incremental` reads and maps the batch like a bulk run,
then sends each record through the real-time engine (the same standardisation, model,
clustering and survivorship): each is matched against the existing golden records and
against the batch's records already in, existing people keep their golden ids, and a
record whose content has not changed is left alone, so a batch sent twice changes
nothing the second time. Everything the batch changes is written in one transaction
through the store's service (:func:`mdm.store.service.command_service`, the HTTP
service's owner of the file) with the real-time writer
(:func:`mdm.store.changes.apply_changes`): a failure leaves the store as it was.

A value that cannot be standardised is left out of its record and counted per field,
as the bulk path counts it; it does not stop the batch.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mdm.bulk.ingest import MappedSource, SourceSpec
from mdm.errors import InputError
from mdm.headers import ColumnMapping
from mdm.realtime.engine import Engine
from mdm.store.changes import apply_changes
from mdm.store.service import command_service

if TYPE_CHECKING:
    import duckdb

    from mdm.realtime.results import UpsertResult
    from mdm.rules.survivorship import SurvivorshipRules

T = TypeVar("T")

#: Change sets written per statement group (apply_changes' cost grows with a batch's keys).
APPLY_CHUNK = 20_000


@dataclass
class IncrementalResult:
    """What an incremental batch did."""

    db: Path
    records: int
    actions: dict[str, int] = field(default_factory=dict)  # created, linked, review, ...
    unparseable: dict[str, int] = field(default_factory=dict)
    golden_created: int = 0
    golden_retired: int = 0
    review_tasks: int = 0
    #: Open tasks from before the batch it withdrew: their customers are now one, or a
    #: stronger pair of their records took their place (one task per pair of customers).
    review_tasks_withdrawn: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    #: source -> how its columns were mapped and which were not used (one line)
    columns: dict[str, str] = field(default_factory=dict)


def _records(source: MappedSource) -> list[dict[str, Any]]:
    """The batch's rows as the engine takes them: schema fields, source, extras."""
    frame = source.frame.astype(object).where(source.frame.notna(), None)
    extras = source.extras.astype(object).where(source.extras.notna(), None)
    found = []
    for (_, row), (_, extra) in zip(frame.iterrows(), extras.iterrows(), strict=True):
        record: dict[str, Any] = {k: (str(v) if v is not None else None) for k, v in row.items()}
        record = {k: v for k, v in record.items() if v not in (None, "")}
        record["source"] = source.name
        kept = {k: str(v) for k, v in extra.items() if v is not None and str(v) != ""}
        if kept:
            record["extra"] = kept
        found.append(record)
    return found


def batch_records(specs: list[SourceSpec], rules_dir: Path) -> list[dict[str, Any]]:
    """Read and map a batch's files (every problem before any record is sent): its
    records as the engine takes them."""
    return read_batch(specs, rules_dir)[0]


def read_batch(
    specs: list[SourceSpec], rules_dir: Path
) -> tuple[list[dict[str, Any]], dict[str, ColumnMapping]]:
    """:func:`batch_records`, and how each source's columns were mapped."""
    from mdm.bulk.load import read_sources

    sources = read_sources(specs, rules_dir)
    records = [record for source in sources for record in _records(source)]
    return records, {source.name: source.columns for source in sources}


def upsert_leniently(
    upsert: Callable[[dict[str, Any]], tuple[UpsertResult, T]], record: dict[str, Any]
) -> tuple[UpsertResult, T, list[str]]:
    """``upsert(record)``, and the fields whose values were left out because they could
    not be standardised (as bulk runs count and skip them; the engine never refuses a
    record over one)."""
    result, other = upsert(record)
    return result, other, [warning.field for warning in result.warnings]


def reconcile_incremental(
    specs: list[SourceSpec],
    db: Path,
    rules_dir: Path,
    survivorship: SurvivorshipRules,
    actor: str = "batch",
) -> IncrementalResult:
    """Match a batch of new and changed records against the store at ``db``."""
    if not db.is_file():
        raise InputError(
            f"no store at {db}: an incremental batch needs one; run 'mdm reconcile' first"
        )
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    batch, columns = read_batch(specs, rules_dir)
    seconds["read"] = round(time.perf_counter() - clock, 2)
    described = {name: mapping.describe() for name, mapping in columns.items()}
    result = IncrementalResult(db, len(batch), columns=described)
    actions: Counter[str] = Counter()
    unparseable: Counter[str] = Counter()

    def upsert_all(con: duckdb.DuckDBPyConnection, engine: Engine) -> None:
        """Decide every record of the batch, then write the changes: one transaction,
        all or nothing."""
        clock = time.perf_counter()
        changes = []
        for record in batch:
            if engine.was_erased(str(record.get("source")), str(record.get("record_id"))):
                actions["erased, left out"] += 1  # the right to be forgotten holds
                continue
            done, change, dropped = upsert_leniently(lambda r: engine.upsert(r, actor), record)
            unparseable.update(dropped)
            actions[done.action] += 1
            result.golden_retired += len(change.retired)
            result.golden_created += len(change.new_golden)
            changes.append(change)
        # Tasks a later record of the batch withdrew (one per pair of golden records) are
        # not new open tasks.
        added = {int(row[0]) for change in changes for row in change.tasks_added}
        withdrawn = {task for change in changes for task in change.tasks_withdrawn}
        result.review_tasks = len(added - withdrawn)
        result.review_tasks_withdrawn = len(withdrawn - added)
        seconds["match"] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()
        for start in range(0, len(changes), APPLY_CHUNK):
            apply_changes(con, changes[start : start + APPLY_CHUNK])
        seconds["write"] = round(time.perf_counter() - clock, 2)

    def engine(con: duckdb.DuckDBPyConnection) -> Engine:
        return Engine(con, survivorship, rules_dir)

    clock = time.perf_counter()
    with command_service(db, engine) as service:
        seconds["engine"] = round(time.perf_counter() - clock, 2)
        service.steward(upsert_all)
    result.actions = dict(sorted(actions.items()))
    result.unparseable = dict(sorted(unparseable.items()))
    result.seconds = seconds
    return result


def describe(result: IncrementalResult) -> str:
    actions = ", ".join(f"{n} {action}" for action, n in result.actions.items()) or "nothing"
    bad = ", ".join(f"{k}: {v}" for k, v in result.unparseable.items()) or "none"
    columns = "".join(f"columns of {name}: {line}\n" for name, line in result.columns.items())
    return (
        f"{columns}{result.records} records in the batch: {actions}\n"
        f"golden records created {result.golden_created}, retired (merged) "
        f"{result.golden_retired}; new review tasks {result.review_tasks}, earlier ones "
        f"withdrawn {result.review_tasks_withdrawn}\n"
        f"values left out because they could not be standardised: {bad}\n"
        f"seconds per stage: {result.seconds}"
    )


def as_json(result: IncrementalResult) -> str:
    return json.dumps(
        {
            "db": str(result.db),
            "records": result.records,
            "actions": result.actions,
            "unparseable": result.unparseable,
            "golden_created": result.golden_created,
            "golden_retired": result.golden_retired,
            "review_tasks": result.review_tasks,
            "review_tasks_withdrawn": result.review_tasks_withdrawn,
            "seconds": result.seconds,
            "columns": result.columns,
        }
    )


__all__ = ["IncrementalResult", "reconcile_incremental"]
