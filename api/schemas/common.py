"""Pieces shared by the request and response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: Who made a change; kept in the log (until API keys name the caller, issue 8).
Actor = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"\S", description="Who is acting.")
]


class Request(BaseModel):
    """A request body: unknown fields are refused, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Message(BaseModel):
    """What happened, in one sentence."""

    message: str


def _in_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: A point in time on the wire: the store keeps UTC without a zone (DuckDB TIMESTAMP);
#: answers say it is UTC (RFC 3339, "+00:00"), as the schema's date-time format asks.
Timestamp = Annotated[datetime, AfterValidator(_in_utc)]
