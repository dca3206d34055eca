"""Name variants (Bob ~ Robert) and name frequencies: list, search, propose, decide, export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from api.access import Caller
from api.deps import CallerDep, SettingsDep, StoreDep, acting, page
from api.responses import table_file
from api.schemas.names import (
    FrequencyList,
    VariantChange,
    VariantDecide,
    VariantList,
    VariantPropose,
)
from mdm.realtime.engine import Engine
from mdm.review import VariantChange as NamePairChange
from mdm.review import decide_variant
from mdm.store.names import list_variants, name_frequencies, propose
from mdm.store.service import StoreService

router = APIRouter(prefix="/v1/names", tags=["names"])

Status = Literal["proposed", "active", "rejected"]
Origin = Literal["seed", "learned", "steward"]


@router.get("/variants", response_model=VariantList)
def get_variants(
    store: StoreDep,
    settings: SettingsDep,
    status: Status | None = None,
    origin: Origin | None = None,
    q: Annotated[str | None, Query(max_length=100, description="A name or part of one.")] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> VariantList:
    """Name pairs, filtered by status, origin or a name fragment; most evidence first."""
    with store.read() as con:
        frame = list_variants(
            con, status=status, origin=origin, text=q, limit=page(limit, settings)
        )
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return VariantList(variants=rows, count=len(rows))


@router.get("/variants/export", response_class=Response)
def export_variants(
    store: StoreDep,
    format: Literal["csv", "parquet"] = "csv",
    status: Status | None = None,
) -> Response:
    """Every pair (or those of one status) as a CSV or Parquet file."""
    with store.read() as con:
        frame = list_variants(con, status=status, limit=10_000_000)
    return table_file(frame, format, "name_variants")


@router.post("/variants", response_model=VariantChange, status_code=status.HTTP_201_CREATED)
def post_variant(body: VariantPropose, store: StoreDep, caller: CallerDep) -> VariantChange:
    """Propose a pair for a steward to approve. A rejected pair is refused (409)."""
    with store.write() as con:
        message = propose(con, body.name, body.variant, body.kind, acting(caller, body.by))
    return VariantChange(message=message)


def decide_pair(
    store: StoreService[Engine], name: str, variant: str, approve: bool, actor: str
) -> NamePairChange:
    """Approve or reject a name pair; the engine's copy of the records' keys follows."""
    with store.write() as con:
        change = decide_variant(con, name, variant, approve=approve, actor=actor)
        if store.engine is not None:  # the service's own copy of the records' keys
            store.after_commit(store.engine.refresh_names(con, change.names))
    return change


def _decide(
    body: VariantDecide, store: StoreService[Engine], approve: bool, caller: Caller
) -> VariantChange:
    change = decide_pair(store, body.name, body.variant, approve, acting(caller, body.by))
    return VariantChange(message=change.message, rescored_tasks=change.rescored_tasks)


@router.post("/variants/approve", response_model=VariantChange)
def approve_variant(body: VariantDecide, store: StoreDep, caller: CallerDep) -> VariantChange:
    """Approve a pair: matching uses it at once; affected review tasks are re-scored."""
    return _decide(body, store, approve=True, caller=caller)


@router.post("/variants/reject", response_model=VariantChange)
def reject_variant(body: VariantDecide, store: StoreDep, caller: CallerDep) -> VariantChange:
    """Reject a pair: never used, never proposed again by the machine; tasks re-scored."""
    return _decide(body, store, approve=False, caller=caller)


@router.get("/frequencies", response_model=FrequencyList)
def get_frequencies(
    store: StoreDep,
    settings: SettingsDep,
    kind: Literal["first", "last"] = "first",
    q: Annotated[str | None, Query(max_length=100, description="A name or part of one.")] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> FrequencyList:
    """How often each first or last name occurs in the store's records, commonest first."""
    with store.read() as con:
        frame, total = name_frequencies(con, kind, q, page(limit, settings))
    return FrequencyList(frequencies=frame.to_dict("records"), total=total)
