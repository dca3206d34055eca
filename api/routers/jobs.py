"""Incremental batch jobs: submit a file, follow it, fetch its results, cancel it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile, status

from api.jobs import Jobs
from api.responses import table_file
from api.schemas.jobs import JobList, JobPathCreate, JobPublic

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

JobId = Annotated[str, Path(min_length=1, max_length=40)]


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs


@router.post("", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def post_job(
    request: Request,
    file: Annotated[UploadFile, File(description="CSV, Parquet, Excel (.xlsx) or JSON lines.")],
    source: Annotated[str, Form(min_length=1, max_length=100, description="e.g. crm")],
    by: Annotated[str, Form(min_length=1, max_length=100)] = "etl",
) -> JobPublic:
    """Send a file of new and changed records: each is matched against the golden records
    and the batch, in the background, while matching goes on. Records already in with
    the same content are skipped, so sending a file again changes nothing and resumes a
    job that stopped. Follow it at ``GET /v1/jobs/{id}``."""
    job = _jobs(request).submit_upload(file.filename or "", file.file, source, by)
    return JobPublic(**job.public())


@router.post("/from-path", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def post_job_from_path(request: Request, body: JobPathCreate) -> JobPublic:
    """The same, for a file in the folder the service may read (``MDM_JOB_FOLDER``)."""
    job = _jobs(request).submit_path(body.path, body.source, body.by)
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
    request: Request, job_id: JobId, format: Literal["csv", "parquet"] = "csv"
) -> Response:
    """Each record of the batch: its golden id and what happened (created, linked,
    updated, review, unchanged)."""
    return table_file(_jobs(request).results(job_id), format, f"job-{job_id}")


@router.delete("/{job_id}", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def cancel_job(request: Request, job_id: JobId) -> JobPublic:
    """Stop a job after the record in hand; what it sent stays (send the file again to
    finish it)."""
    return JobPublic(**_jobs(request).cancel(job_id).public())
