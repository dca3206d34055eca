"""The change feed and golden record histories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import SettingsDep, StoreDep, page
from api.schemas.events import EventPage, HistoryPublic
from mdm.store.events import events_after, history

router = APIRouter(prefix="/v1", tags=["events"])


@router.get("/events", response_model=EventPage)
def get_events(
    store: StoreDep,
    settings: SettingsDep,
    after: Annotated[int, Query(ge=0, description="The last event id you have (0: all).")] = 0,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> EventPage:
    """Changes since a cursor, oldest first: poll with ``after`` set to the ``next`` of
    the last answer to stay in step; no event is skipped or repeated."""
    with store.read() as con:
        found = events_after(con, after, page(limit, settings))
    return EventPage(events=found, next=found[-1]["event_id"] if found else after)


@router.get("/golden/{golden_id}/history", response_model=HistoryPublic)
def get_history(
    golden_id: Annotated[str, Path(min_length=1, max_length=200)], store: StoreDep
) -> HistoryPublic:
    """Everything that happened to a golden record, oldest first, each event with who,
    when, a sentence saying what, the values it changed (old -> new) and a steward's
    note."""
    with store.read() as con:
        found = history(con, golden_id)
    return HistoryPublic(golden_id=golden_id, events=found)
