"""Jobs: submit a file (an incremental batch or a full reconciliation), follow it, fetch
its results, cancel it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile, status
from pydantic import AfterValidator

from api.deps import acting
from api.responses import table_file
from api.schemas.common import printable
from api.schemas.jobs import JobList, JobPathCreate, JobPublic
from mdm.jobs import Jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

JobId = Annotated[str, Path(min_length=1, max_length=40)]
Mode = Literal["incremental", "full"]


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


@router.post("", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def post_job(
    request: Request,
    file: Annotated[UploadFile, File(description="CSV, Parquet, Excel (.xlsx) or JSON lines.")],
    source: Annotated[
        str, Form(min_length=1, max_length=100, description="e.g. crm"), AfterValidator(printable)
    ],
    by: Annotated[str, Form(min_length=1, max_length=100), AfterValidator(printable)] = "etl",
    mode: Annotated[Mode, Form(description="incremental (default) or full")] = "incremental",
) -> JobPublic:
    """Send a file, worked on in the background while matching goes on. Follow it at
    ``GET /v1/jobs/{id}``.

    * ``incremental``: new and changed records, each matched against the golden records
      and the batch. Records already in with the same content are skipped, so sending a
      file again changes nothing and resumes a job that stopped.
    * ``full``: the source's whole extract, reconciled as ``mdm reconcile`` does (the
      file replaces what the store holds from that source; everything is clustered
      again), in a child process on a copy of the store. Steward writes are refused
      (409) until it ends."""
    actor = acting(request.state.caller, by)
    job = _jobs(request).submit_upload(file.filename or "", file.file, source, actor, mode)
    return JobPublic(**job.public())


@router.post("/from-path", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def post_job_from_path(request: Request, body: JobPathCreate) -> JobPublic:
    """The same, for a file in the folder the service may read (``MDM_JOB_FOLDER``)."""
    actor = acting(request.state.caller, body.by)
    job = _jobs(request).submit_path(body.path, body.source, actor, body.mode)
    return JobPublic(**job.public())


@router.get("", response_model=JobList)
def get_jobs(request: Request) -> JobList:
    """Every job, newest first."""
    jobs = [JobPublic(**job.public()) for job in _jobs(request).all()]
    return JobList(jobs=jobs, count=len(jobs))


@router.get("/{job_id}", response_model=JobPublic)
def get_job(request: Request, job_id: JobId) -> JobPublic:
    """Stage, records done of all, percent, records per second, values left out."""
    return JobPublic(**_jobs(request).get(job_id).public())


@router.get("/{job_id}/results")
def get_job_results(
    request: Request,
    job_id: JobId,
    format: Literal["csv", "parquet"] = "csv",
    part: Literal["xref", "golden", "review"] = "xref",
) -> Response:
    """A job's results, as CSV or Parquet:

    * ``xref``: each record of the file, its golden id and what happened (incremental:
      created, linked, updated, review, unchanged; full: added, updated, moved,
      unchanged, deleted);
    * ``golden``: the golden records the job created or changed;
    * ``review``: the open review tasks about its records."""
    frame = _jobs(request).results(job_id, part)
    return table_file(frame, format, f"job-{job_id}-{part}")


@router.delete("/{job_id}", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def cancel_job(request: Request, job_id: JobId) -> JobPublic:
    """Stop a job after the record in hand; what it sent stays (send the file again to
    finish it)."""
    return JobPublic(**_jobs(request).cancel(job_id).public())
