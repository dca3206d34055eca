"""Merge, unmerge and erasure on the wire."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import Actor, Identifier, Request

Id = Identifier
Note = Annotated[str | None, Field(default=None, max_length=2000)]


class RecordKey(Request):
    source: Id
    record_id: Id


class MergeCreate(Request):
    """Two golden records a steward says are one person."""

    golden_ids: Annotated[list[Id], Field(min_length=2, max_length=2)]
    by: Actor
    reason: Note = None
    #: Merge even when the model holds them to be different people (a 409 names the
    #: evidence against otherwise).
    confirm: bool = False

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "golden_ids": ["G1A2B3C4D5E6F", "G0F1E2D3C4B5A"],
                    "by": "ann",
                    "reason": "same phone and date of birth",
                }  # fmt: skip
            ]
        }
    }


class UnmergeCreate(Request):
    """Source records a steward takes out of a golden record (into one of their own)."""

    records: Annotated[list[RecordKey], Field(min_length=1, max_length=1000)]
    by: Actor
    reason: Note = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "records": [{"source": "crm", "record_id": "C-1001"}],
                    "by": "ann",
                    "reason": "father and son",
                }  # fmt: skip
            ]
        }
    }


class LifecyclePublic(BaseModel):
    """What a merge, unmerge or decision did to the golden records."""

    golden_id: str | None
    golden_records: list[str]
    retired: list[str]
    into: list[str] = []
    message: str


class ErasureCreate(Request):
    """Who erases, and from which sources (default: all)."""

    by: Actor
    sources: Annotated[list[Id] | None, Field(default=None, max_length=100)] = None

    model_config = {"json_schema_extra": {"examples": [{"by": "dpo", "sources": ["webshop"]}]}}


class ErasurePublic(BaseModel):
    golden_id: str
    records: list[RecordKey]
    golden_remains: bool
    message: str
