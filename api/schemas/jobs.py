"""Jobs on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Actor, Identifier, Request


class JobPathCreate(Request):
    """A file in the folder the service may read."""

    path: str = Field(min_length=1, max_length=1000, description="Relative to MDM_JOB_FOLDER.")
    source: Identifier = Field(description="The source system.")
    by: Actor = "etl"
    mode: Literal["incremental", "full"] = Field(
        default="incremental",
        description="incremental: new and changed records; full: "
        "the source's whole extract, reconciled again with everything",
    )

    model_config = {
        "json_schema_extra": {"examples": [{"path": "nightly/crm.csv", "source": "crm"}]}
    }


class JobPublic(BaseModel):
    job_id: str
    kind: str
    source: str
    file: str
    submitted_by: str
    status: str
    stage: str
    records: int
    done: int
    percent: float
    records_per_second: float
    actions: dict[str, int]
    unparseable: dict[str, int]
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    seconds: float
    run_id: int | None = None
    peak_rss_mib: float | None = None
    stages: dict[str, float] = {}
    stage_detail: str = Field(
        default="", description="A full job: where the current stage is, e.g. 'slice 3 of 10 done'"
    )
    mapped: list[dict[str, str]] = Field(
        default=[],
        description="The file's columns used: attribute, column and basis (source mapping, "
        "schema name or known synonym)",
    )
    unused: list[str] = Field(
        default=[], description="The file's columns not mapped (kept as extra attributes)"
    )


class JobList(BaseModel):
    jobs: list[JobPublic]
    count: int
