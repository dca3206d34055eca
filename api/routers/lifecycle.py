"""A steward's operations on golden records: merge, unmerge, erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.deps import CallerDep, StoreDep, acting
from api.schemas.lifecycle import (
    ErasureCreate,
    ErasurePublic,
    LifecyclePublic,
    MergeCreate,
    RecordKey,
    UnmergeCreate,
)
from mdm.erasure import erase_in_service
from mdm.lifecycle import merge, unmerge

router = APIRouter(prefix="/v1/golden", tags=["golden records"])

GoldenId = Annotated[str, Path(min_length=1, max_length=200)]


@router.post("/merge", response_model=LifecyclePublic)
def post_merge(body: MergeCreate, store: StoreDep, caller: CallerDep) -> LifecyclePublic:
    """Merge two golden records: the older id survives and the other resolves to it. A
    must-link keeps them together on every later run and upsert. Two customers the
    model holds to be different people (even their most alike records score below the
    review band) are refused with 409 naming the evidence against, unless ``confirm``."""
    first, second = body.golden_ids
    actor = acting(caller, body.by)
    done = store.steward(
        lambda con, engine: merge(
            con, engine, first, second, actor, body.reason, confirmed=body.confirm
        )
    )
    return LifecyclePublic(
        golden_id=done["golden_id"],
        golden_records=done["golden_records"],
        retired=done["retired"],
        message=f"merged into {done['golden_id']}",
    )


@router.post("/{golden_id}/unmerge", response_model=LifecyclePublic)
def post_unmerge(
    golden_id: GoldenId, body: UnmergeCreate, store: StoreDep, caller: CallerDep
) -> LifecyclePublic:
    """Take source records out of a golden record into one of their own: the id they
    had before they joined comes back where there was one. A cannot-link keeps them
    apart on every later run and upsert."""
    keys = [(r.source, r.record_id) for r in body.records]
    done = store.steward(
        lambda con, engine: unmerge(
            con, engine, golden_id, keys, acting(caller, body.by), body.reason
        )
    )
    return LifecyclePublic(
        golden_id=golden_id,
        golden_records=done["golden_records"],
        retired=done["retired"],
        into=done["into"],
        message=f"{len(keys)} record(s) taken out of {golden_id} into {', '.join(done['into'])}",
    )


@router.post("/{golden_id}/erasure", response_model=ErasurePublic)
def post_erasure(
    request: Request, golden_id: GoldenId, body: ErasureCreate, store: StoreDep, caller: CallerDep
) -> ErasurePublic:
    """Erase a person (the right to be forgotten): their source records leave every
    table, what is left is derived again, and the store file is compacted so that the
    erased values leave its bytes. Writes wait while the file is copied."""
    found = erase_in_service(store, golden_id, acting(caller, body.by), body.sources)
    request.app.state.jobs.forget(found.records, [found.golden_id])  # and the job results
    return ErasurePublic(
        golden_id=found.golden_id,
        records=[RecordKey(source=s, record_id=r) for s, r in found.records],
        golden_remains=found.golden_remains,
        message=found.message(),
    )
