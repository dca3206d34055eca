"""Pieces shared by the request and response models."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: Unicode categories no identifier or name of an actor may hold: control characters
#: (NUL, CR, LF, DEL, C1), invisible format characters (zero-width, bidi overrides that
#: make a log line read otherwise), surrogates, private use, line and paragraph breaks.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def printable(value: str) -> str:
    """``value`` when it holds something visible and no hidden character; else an
    error saying which character, and where."""
    for position, character in enumerate(value):
        if unicodedata.category(character) in _HIDDEN:
            raise ValueError(
                f"holds the invisible or control character U+{ord(character):04X} at "
                f"position {position + 1}: identifiers and names are plain text on one line"
            )
    if not value.strip():
        raise ValueError("is blank")
    return value


#: Who made a change; kept in the log beside the key or user that made it.
Actor = Annotated[
    str,
    Field(min_length=1, max_length=100, description="Who is acting."),
    AfterValidator(printable),
]

#: An identifier: a source, a record id, a golden id.
Identifier = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable)]

#: The name of an extra attribute.
ExtraName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(printable)]


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
