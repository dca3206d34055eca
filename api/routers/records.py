"""Real-time matching and upserts: one record in, the right customer out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, EngineDep, SettingsDep, StoreDep, acting
from api.responses import FastJSONResponse
from api.schemas.common import printable
from api.schemas.records import (
    BatchPublic,
    DeletePublic,
    GoldenPublic,
    MatchPublic,
    MatchRequest,
    OverrideSet,
    RecordBatch,
    RecordPublic,
)
from mdm.clock import utcnow
from mdm.errors import InputError
from mdm.overrides import clear_override, set_override
from mdm.realtime.engine import Engine
from mdm.realtime.results import Candidate, UpsertResult
from mdm.realtime.usable import ValueWarning
from mdm.rules.bundle import RulesBundle
from mdm.schema import ATTRIBUTES
from mdm.store.reads import get_golden, get_record
from mdm.store.service import StoreService

router = APIRouter(prefix="/v1", tags=["records"])

KeyPath = Annotated[str, Path(min_length=1, max_length=200)]
KeyQuery = Annotated[str, Query(min_length=1, max_length=200)]


def _candidate(c: Candidate) -> dict[str, Any]:
    """A :class:`CandidatePublic` as a plain dict (see api.responses)."""
    return {
        "golden_id": c.golden_id,
        "source": c.source,
        "record_id": c.record_id,
        "match_probability": c.match_probability,
        "match_weight": c.match_weight,
        "decision": c.decision,
        "comparisons": [
            {
                "comparison": hit.comparison,
                "level": hit.label,
                "gamma": hit.gamma,
                "match_weight": hit.match_weight,
                "tf_adjustment": hit.tf_adjustment,
                "values": hit.values,
            }
            for hit in c.comparisons
        ],
    }


def _upserted(result: UpsertResult) -> dict[str, Any]:
    """An :class:`UpsertPublic` as a plain dict."""
    return {
        "action": result.action,
        "source": result.source,
        "record_id": result.record_id,
        "golden_id": result.golden_id,
        "version": result.version,
        "merged": result.merged,
        "review_tasks": result.review_tasks,
        "evidence": [_candidate(c) for c in result.evidence],
        "warnings": _warnings(result.warnings),
    }


def _warnings(warnings: Sequence[ValueWarning]) -> list[dict[str, Any]]:
    """:class:`ValueWarningPublic` items as plain dicts."""
    return [{"field": w.field, "value": w.value, "reason": w.reason} for w in warnings]


#: The record in the customer schema: what a match answer shows of the cleaned query.
_SCHEMA_FORM = ("source", "record_id", *ATTRIBUTES)

Debug = Annotated[
    bool,
    Query(description="Also return the derived columns matching uses (blocking keys, "
          "phonetic codes, name variant keys), under `debug`."),
]  # fmt: skip


@router.post("/match", response_model=MatchPublic, response_class=FastJSONResponse)
async def match(
    body: MatchRequest, engine: EngineDep, store: StoreDep, debug: Debug = False
) -> FastJSONResponse:
    """The golden records this record may belong to, best first, with the evidence of
    each comparison, and what the service would decide for it now (what an upsert of
    it would do): ``link`` to a golden record, ``review`` or ``new``. A value that cannot
    be standardised is treated as missing and listed under ``warnings``; a record with
    nothing to match on is a 422. Nothing is stored."""
    store.called()
    # In the event loop: ~1 ms of CPU, and a thread hop would cost more than it frees.
    found = engine.match(body.as_record(), limit=body.limit)
    decision = found.decision
    values = found.record
    answer = {
        "record": {k: values[k] for k in _SCHEMA_FORM if values.get(k) is not None},
        "decision": decision.outcome,
        "golden_id": decision.golden_id if decision.outcome == "link" else None,
        "review_golden_ids": list(decision.review),
        "candidates": [_candidate(c) for c in found.candidates],
        "link_threshold": found.link_threshold,
        "review_threshold": found.review_threshold,
        "warnings": _warnings(found.warnings),
        "debug": {k: v for k, v in values.items() if k not in _SCHEMA_FORM} if debug else None,
    }
    return FastJSONResponse(answer)


@router.post("/records", response_model=BatchPublic, response_class=FastJSONResponse)
async def upsert_records(
    body: RecordBatch, store: StoreDep, engine: EngineDep, settings: SettingsDep, caller: CallerDep
) -> FastJSONResponse:
    """Add or update source records: each is standardised, matched, then linked to a
    golden record, sent for review or made a new golden record. Sending the same record
    again changes nothing. Every record is checked before any is written; the answer
    comes once all of them are committed. A value that cannot be standardised is
    treated as missing (kept as sent in the record's raw values) and listed under the
    record's ``warnings``; a record with nothing to match on refuses the batch (422)."""
    if len(body.records) > settings.max_batch:
        raise InputError(
            f"{len(body.records)} records in one call; send at most {settings.max_batch} "
            "(split the batch)"
        )
    store.called()
    keys = [(r.source, r.record_id) for r in body.records]
    if len(set(keys)) != len(keys):
        raise InputError("a record (source, record_id) appears twice in the batch; send it once")
    records = [r.as_record() for r in body.records]
    actor = acting(caller, body.by)
    for record in records:
        engine.check(record)  # refuse the batch before writing any

    def decide() -> list[tuple[Any, Future[None]]]:
        return [store.upsert(record, actor) for record in records]

    # One record is decided in the event loop (a millisecond or two); a batch in a
    # worker thread, so matches keep being answered meanwhile.
    decided = decide() if len(records) == 1 else await run_in_threadpool(decide)
    for _, committed in decided:
        await asyncio.wrap_future(committed)
    return FastJSONResponse({"results": [_upserted(result) for result, _ in decided]})


@router.get("/records/{source}/{record_id:path}", response_model=RecordPublic)
def read_record(source: KeyPath, record_id: KeyPath, store: StoreDep) -> RecordPublic:
    """A source record as stored: standardised values, raw values, extras, golden id.
    A record id holding ``/`` goes in as it is or percent-encoded; one a URL path cannot
    carry (``..``) is read with ``GET /v1/records?source=&record_id=``."""
    return _read(store, source, record_id)


@router.get("/records", response_model=RecordPublic)
def read_record_by_query(source: KeyQuery, record_id: KeyQuery, store: StoreDep) -> RecordPublic:
    """The same as ``GET /v1/records/{source}/{record_id}``, the keys as query values:
    for any record id, whatever characters it holds."""
    return _read(store, source, record_id)


def _read(store: StoreService[Engine], source: str, record_id: str) -> RecordPublic:
    with store.read() as con:
        row = get_record(con, source, record_id)
    return RecordPublic(
        source=row["source"],
        record_id=row["record_id"],
        golden_id=row["golden_id"],
        version=row["version"],
        ingested_at=row["ingested_at"],
        values={a: row[a] for a in ATTRIBUTES if row.get(a) is not None},
        extra=row["extra"],
        raw=row["raw"],
    )


@router.delete("/records/{source}/{record_id:path}", response_model=DeletePublic)
async def delete_record(
    source: KeyPath, record_id: KeyPath, store: StoreDep, engine: EngineDep, caller: CallerDep
) -> DeletePublic:
    """Remove a source record; its golden record is re-derived from the rest."""
    return await _delete(store, source, record_id, acting(caller, None))


@router.delete("/records", response_model=DeletePublic)
async def delete_record_by_query(
    source: KeyQuery, record_id: KeyQuery, store: StoreDep, engine: EngineDep, caller: CallerDep
) -> DeletePublic:
    """The same as ``DELETE /v1/records/{source}/{record_id}``, the keys as query values."""
    return await _delete(store, source, record_id, acting(caller, None))


async def _delete(
    store: StoreService[Engine], source: str, record_id: str, actor: str
) -> DeletePublic:
    result, committed = store.delete(source, record_id, actor)
    await asyncio.wrap_future(committed)
    return DeletePublic(**result)


@router.get("/golden/{golden_id}", response_model=GoldenPublic)
def read_golden(golden_id: KeyPath, store: StoreDep) -> GoldenPublic:
    """A golden record with its source records and each value's lineage. A retired id
    answers with the record that absorbed it."""
    with store.read() as con:
        golden = get_golden(con, golden_id)
    return _golden(golden)


Attribute = Annotated[str, Path(min_length=1, max_length=50, description="e.g. email")]


@router.put("/golden/{golden_id}/overrides/{attribute}", response_model=GoldenPublic)
def put_override(
    golden_id: KeyPath, attribute: Attribute, body: OverrideSet, store: StoreDep,
    settings: SettingsDep, caller: CallerDep,
) -> GoldenPublic:  # fmt: skip
    """Set a steward's value for one attribute: it wins over survivorship (its lineage
    says ``steward_override``) until cleared. Answers with the golden record."""
    survivorship = RulesBundle.load(settings.rules).survivorship
    with store.write() as con:
        set_override(
            con,
            golden_id,
            attribute,
            body.value,
            acting(caller, body.by),
            body.reason,
            survivorship,
            utcnow(),
        )
    with store.read() as con:
        return _golden(get_golden(con, golden_id))


@router.delete("/golden/{golden_id}/overrides/{attribute}", response_model=GoldenPublic)
def delete_override(
    golden_id: KeyPath, attribute: Attribute, store: StoreDep, settings: SettingsDep,
    caller: CallerDep,
    by: Annotated[str, Query(min_length=1, max_length=100), AfterValidator(printable)] = "steward",
) -> GoldenPublic:  # fmt: skip
    """Clear a steward's value: survivorship decides the attribute again."""
    survivorship = RulesBundle.load(settings.rules).survivorship
    with store.write() as con:
        clear_override(con, golden_id, attribute, acting(caller, by), survivorship, utcnow())
    with store.read() as con:
        return _golden(get_golden(con, golden_id))


def _golden(golden: dict[str, Any]) -> GoldenPublic:
    return GoldenPublic(
        golden_id=golden["golden_id"],
        requested_id=golden["requested_id"],
        status=golden["status"],
        created_at=golden["created_at"],
        updated_at=golden["updated_at"],
        record_count=golden["record_count"],
        values={a: golden[a] for a in ATTRIBUTES},
        records=golden["records"],
        lineage=golden["lineage"],
        constraints=golden["constraints"],
        display=golden.get("display", {}),
    )
