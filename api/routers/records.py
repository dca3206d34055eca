"""Real-time matching and upserts: one record in, the right customer out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.deps import EngineDep, SettingsDep, StoreDep
from api.schemas.records import (
    BatchPublic,
    CandidatePublic,
    ComparisonPublic,
    DeletePublic,
    GoldenPublic,
    MatchPublic,
    MatchRequest,
    RecordBatch,
    RecordPublic,
    UpsertPublic,
)
from mdm.errors import InputError
from mdm.realtime.engine import Candidate, UpsertResult, get_golden, get_record
from mdm.schema import ATTRIBUTES

router = APIRouter(prefix="/v1", tags=["records"])

KeyPath = Annotated[str, Path(min_length=1, max_length=200)]


def _candidate(c: Candidate) -> CandidatePublic:
    return CandidatePublic(
        golden_id=c.golden_id,
        source=c.source,
        record_id=c.record_id,
        match_probability=c.match_probability,
        match_weight=c.match_weight,
        comparisons=[
            ComparisonPublic(
                comparison=hit.comparison,
                level=hit.label,
                gamma=hit.gamma,
                match_weight=hit.match_weight,
                tf_adjustment=hit.tf_adjustment,
                values=hit.values,
            )
            for hit in c.comparisons
        ],
    )


def _upserted(result: UpsertResult) -> UpsertPublic:
    return UpsertPublic(
        action=result.action,
        source=result.source,
        record_id=result.record_id,
        golden_id=result.golden_id,
        version=result.version,
        merged=result.merged,
        review_tasks=result.review_tasks,
        evidence=[_candidate(c) for c in result.evidence],
    )


@router.post("/match", response_model=MatchPublic)
def match(body: MatchRequest, store: StoreDep, engine: EngineDep) -> MatchPublic:
    """The golden records this record may belong to, best first, with the evidence of
    each comparison. Nothing is stored."""
    found = engine.match(store.reader, body.as_record(), limit=body.limit)
    return MatchPublic(
        record=found.record,
        candidates=[_candidate(c) for c in found.candidates],
        link_threshold=found.link_threshold,
        review_threshold=found.review_threshold,
    )


@router.post("/records", response_model=BatchPublic, status_code=status.HTTP_200_OK)
def upsert_records(
    body: RecordBatch, store: StoreDep, engine: EngineDep, settings: SettingsDep
) -> BatchPublic:
    """Add or update source records: each is standardised, matched, then linked to a
    golden record, sent for review or made a new golden record. Sending the same record
    again changes nothing. Every record is checked before any is written; each is then
    committed in turn."""
    if len(body.records) > settings.max_batch:
        raise InputError(
            f"{len(body.records)} records in one call; send at most {settings.max_batch} "
            "(split the batch)"
        )
    keys = [(r.source, r.record_id) for r in body.records]
    if len(set(keys)) != len(keys):
        raise InputError("a record (source, record_id) appears twice in the batch; send it once")
    with store.read() as con:
        for record in body.records:
            engine.prepare(con, record.as_record())  # refuse the batch before writing any
    results = []
    for record in body.records:
        with store.write() as con:
            result, apply = engine.upsert(con, record.as_record(), actor=body.by)
            store.after_commit(apply)
        results.append(_upserted(result))
    return BatchPublic(results=results)


@router.get("/records/{source}/{record_id}", response_model=RecordPublic)
def read_record(source: KeyPath, record_id: KeyPath, store: StoreDep) -> RecordPublic:
    """A source record as stored: standardised values, raw values, extras, golden id."""
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


@router.delete("/records/{source}/{record_id}", response_model=DeletePublic)
def delete_record(
    source: KeyPath, record_id: KeyPath, store: StoreDep, engine: EngineDep
) -> DeletePublic:
    """Remove a source record; its golden record is re-derived from the rest."""
    with store.write() as con:
        result, apply = engine.delete(con, source, record_id)
        store.after_commit(apply)
    return DeletePublic(**result)


@router.get("/golden/{golden_id}", response_model=GoldenPublic)
def read_golden(golden_id: KeyPath, store: StoreDep) -> GoldenPublic:
    """A golden record with its source records and each value's lineage. A retired id
    answers with the record that absorbed it."""
    with store.read() as con:
        golden = get_golden(con, golden_id)
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
    )
