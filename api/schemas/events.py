"""Events on the wire: the change feed and a golden record's history."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas.common import Timestamp


class EventPublic(BaseModel):
    """One state change: what, to which golden or source record, who, when, and why
    (``detail`` holds ids, rule names and attribute names, never customer values)."""

    event_id: int
    occurred_at: Timestamp
    kind: str
    golden_id: str | None
    source: str | None
    record_id: str | None
    actor: str
    detail: dict[str, Any]
    description: str


class ValueChange(BaseModel):
    """One attribute of a golden record, before and after an event."""

    attribute: str
    old: str | None
    new: str | None


class HistoryEvent(EventPublic):
    """An event of a golden record's history, with the values behind it: what changed
    (old -> new) and a steward's note. Only a record's history shows them; the change
    feed carries ids alone."""

    changes: list[ValueChange] = []
    note: str | None = None


class EventPage(BaseModel):
    """Events after a cursor, oldest first; ask again with ``after=next``."""

    events: list[EventPublic]
    next: int


class HistoryPublic(BaseModel):
    """Everything that happened to a golden record, oldest first."""

    golden_id: str
    events: list[HistoryEvent]
