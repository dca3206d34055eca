"""Name variants and name frequencies on the wire."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Actor, Request, Timestamp

Name = Annotated[str, Field(min_length=1, max_length=100, description="A first name.")]


class VariantPublic(BaseModel):
    """A pair of names that are forms of one another."""

    name: str
    variant: str
    kind: str
    origin: str
    reference: str | None
    evidence: int
    status: str
    first_seen: Timestamp
    last_seen: Timestamp
    #: What the pair looks like: "typo" (one edit apart, or nearly the same), "nickname"
    #: (plausibly one name) or "unlikely" (probably two different names).
    looks_like: str


class VariantList(BaseModel):
    variants: list[VariantPublic]
    count: int


class VariantPropose(Request):
    """Propose that ``variant`` is another form of ``name``, for a steward to approve."""

    name: Name
    variant: Name
    kind: Literal["nickname", "spelling", "transliteration"] = "nickname"
    by: Actor = "api"

    model_config = {
        "json_schema_extra": {"examples": [{"name": "Margaret", "variant": "Peggy", "by": "ann"}]}
    }


class VariantDecide(Request):
    """Approve or reject a pair (an unknown pair is created with that decision)."""

    name: Name
    variant: Name
    by: Actor = "api"

    model_config = {
        "json_schema_extra": {"examples": [{"name": "Robert", "variant": "Bob", "by": "ann"}]}
    }


class VariantChange(BaseModel):
    """What a proposal or decision did, and the review tasks it re-scored."""

    message: str
    rescored_tasks: int = 0


class FrequencyPublic(BaseModel):
    kind: Literal["first", "last"]
    name: str
    count: int
    share: float


class FrequencyList(BaseModel):
    frequencies: list[FrequencyPublic]
    total: int
