"""Review tasks and decisions on the wire."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Actor, Request


class TaskPublic(BaseModel):
    """A pair of records the engine was unsure about."""

    task_id: int
    status: str
    match_probability: float
    match_weight: float
    source_l: str
    record_id_l: str
    name_l: str | None
    source_r: str
    record_id_r: str
    name_r: str | None


class TaskList(BaseModel):
    tasks: list[TaskPublic]
    count: int


class DecisionCreate(Request):
    """A steward's decision on a review task."""

    decision: Literal["same", "different", "skip"]
    by: Actor
    note: str | None = Field(default=None, max_length=2000)

    model_config = {
        "json_schema_extra": {"examples": [{"decision": "same", "by": "ann", "note": "same DOB"}]}
    }


class DecisionPublic(BaseModel):
    decision_id: int
    task_id: int
    decision: str
    names_confirmed: int
    #: name pairs the decision counted against: [name, variant]
    names_disputed: list[Annotated[list[str], Field(min_length=2, max_length=2)]]
    #: The golden records of the pair once the decision took effect.
    golden_records: list[str] = []
    message: str
