"""Incremental batch jobs inside the service: a file of new and changed records, sent
through the service's own engine and journal one record at a time, in the background.

Each record is an ordinary real-time upsert (decided in about a millisecond, journaled
and acknowledged like any other), so matching requests are answered in between: a job
never takes the store for itself. A job is therefore not one transaction, but it is
resumable: every record it sent is durable, and sending the same file again skips the
records already in (their content is unchanged) and carries on with the rest.

Jobs run one at a time, in order. Each keeps a folder beside the store
(``<store>.jobs/<id>/``) with its input file, its status (``job.json``) and, once done,
its results (``results.parquet``: each record's golden id and what happened), so that
status and results survive a restart.

A *full* job (``mode=full``) reconciles a whole extract as ``mdm reconcile`` does:
the file replaces what the store holds from that source, and everything is clustered
again. It runs in a child process (``python -m mdm reconcile``) on a copy of the
store, so its memory and its CPU-bound work stay out of the service: matching and
real-time writes go on meanwhile (steward writes are refused until it ends, since the
result would overwrite them; API keys are carried over to it). When the child has
committed, the copy becomes the store (:meth:`mdm.store.service.StoreService.replace_with`),
with an engine built from the copy beforehand; the records real-time writes changed
since the copy was made are decided again by that engine and written into the copy
before it replaces the store in one rename, so a crash at any point leaves either the
old store with every write or the new one with every write.

Why one module of this size: one queue with one worker thread; incremental and full
jobs share its state, its folder layout, recovery after a restart and the results'
format.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd

from mdm.bulk.ingest import SourceSpec
from mdm.clock import utcnow
from mdm.erasure import erase_from_job_results, job_folder
from mdm.errors import InputError, MdmError, NotFoundError
from mdm.incremental import read_batch, upsert_leniently
from mdm.progress import RECONCILE_STAGES, read_progress
from mdm.rules.bundle import RulesBundle
from mdm.store.reads import results_about, run_results
from mdm.store.sealing import read_frame, write_frame
from mdm.store.service import StoreService

if TYPE_CHECKING:
    from mdm.realtime.engine import Engine

log = logging.getLogger("mdm.jobs")

#: Records sent between two waits for their commits (bounds what a job holds in flight).
WINDOW = 500
#: While callers are matching or upserting, a job rests after each record this share of
#: the time the record took, so that the interpreter and the engine are free for them in
#: between; with no such calls in the last second it goes at full speed.
REST = 0.5
STATUSES = ("queued", "running", "done", "failed", "cancelled")
MODES = ("incremental", "full")
#: The stages of a full job, in order: the child's (a reconciliation run's) between
#: copying the store and putting the copy in its place.
FULL_STAGES = ("copying", *RECONCILE_STAGES, "engine", "replacing", "results")
#: What a job's results hold, by part: each a Parquet file in the job's folder.
PARTS = ("xref", "golden", "review")


@dataclass
class Job:
    """A job's state, as ``GET /v1/jobs/{id}`` shows it."""

    job_id: str
    kind: str
    source: str
    file: str
    submitted_by: str
    status: str = "queued"
    stage: str = "waiting"
    records: int = 0
    done: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    unparseable: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float = 0.0
    #: A full job: the run it made, the child's peak memory, seconds per stage.
    run_id: int | None = None
    peak_rss_mib: float | None = None
    stages: dict[str, float] = field(default_factory=dict)
    #: A full job: what the current stage is at, e.g. "slice 3 of 10 done" while scoring.
    stage_detail: str = ""
    #: The file's columns: what became which attribute and how, and those not used.
    mapped: list[dict[str, str]] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    #: The file's name as the caller sent it (an upload's file name, or the path named).
    sent_as: str = ""

    #: A full job: how far into the current stage it is, where the child said (done, total).
    stage_steps: tuple[int, int] | None = None

    @property
    def stage_done(self) -> float:
        """The share of the current stage done (0 to 1), where the child said."""
        if not self.stage_steps or not self.stage_steps[1]:
            return 0.0
        return min(self.stage_steps[0] / self.stage_steps[1], 1.0)

    @property
    def percent(self) -> float:
        if self.kind == "full":
            if self.status == "done":
                return 100.0
            done = FULL_STAGES.index(self.stage) if self.stage in FULL_STAGES else 0
            return round(100.0 * (done + self.stage_done) / len(FULL_STAGES), 1)
        return round(100.0 * self.done / self.records, 1) if self.records else 0.0

    @property
    def records_per_second(self) -> float:
        return round(self.done / self.seconds, 1) if self.seconds else 0.0

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "percent": self.percent,
                "records_per_second": self.records_per_second}  # fmt: skip


class Jobs:
    """The service's job queue: one worker thread, jobs in submission order."""

    def __init__(self, store: StoreService[Engine], rules: Path, allowed: Path | None) -> None:
        self.store = store
        self.rules = rules
        self.rules_dir = RulesBundle.load(rules).rules_dir
        self.allowed = allowed.resolve() if allowed is not None else None
        self.folder = job_folder(store.path)
        self.folder.mkdir(exist_ok=True)
        self._jobs: dict[str, Job] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._queue: list[str] = []
        self._wake = threading.Condition()
        self._closing = False
        for status in sorted(self.folder.glob("*/job.json")):
            saved = json.loads(status.read_text())  # fields a later version dropped go
            job = Job(**{k: v for k, v in saved.items() if k in Job.__dataclass_fields__})
            if job.status in ("queued", "running"):  # the service stopped under it
                self._recover(job)
            self._jobs[job.job_id] = job
        self._thread = threading.Thread(target=self._work, name="mdm-jobs", daemon=True)
        self._thread.start()

    # --- submitting -----------------------------------------------------------------

    def submit_upload(
        self, name: str, content: BinaryIO, source: str, by: str, mode: str = "incremental"
    ) -> Job:
        """A job over an uploaded file (``content``: a readable binary stream)."""
        suffix = Path(name or "").suffix.lower()
        if suffix not in (".csv", ".parquet", ".xlsx", ".jsonl"):
            raise InputError("send a .csv, .parquet, .xlsx or .jsonl file")
        job = self._new(source, name, by, mode)
        target = self.folder / job.job_id / f"input{suffix}"
        with target.open("wb") as out:
            shutil.copyfileobj(content, out)
        return self._enqueue(job, target)

    def submit_path(self, path: str, source: str, by: str, mode: str = "incremental") -> Job:
        """A job over a file the server may read (inside the allow-listed folder)."""
        if self.allowed is None:
            raise InputError(
                "this service reads no server paths (set MDM_JOB_FOLDER to allow a folder); "
                "upload the file instead"
            )
        try:
            wanted = (self.allowed / path).resolve()
            wanted.stat()  # a name the file system cannot take (a NUL byte, a lone surrogate)
        except FileNotFoundError:
            pass
        except (ValueError, OSError, UnicodeError):
            raise InputError(
                "the path is not a valid file name; name a file in the job folder"
            ) from None
        if not wanted.is_relative_to(self.allowed):
            raise InputError(f"{path} is outside the folder this service may read")
        if not wanted.is_file():
            raise NotFoundError(f"no file {path} in the folder this service reads")
        return self._enqueue(self._new(source, path, by, mode), wanted)

    def _as_sent(self, job: Job, message: str) -> str:
        """``message`` naming the file as the caller sent it, not the job's stored copy."""
        if not job.sent_as:
            return message
        stored = re.compile(rf"\S*{re.escape(os.sep + job.job_id + os.sep)}input\.\w+")
        return stored.sub(lambda _: job.sent_as, message)

    def _new(self, source: str, file: str, by: str, mode: str) -> Job:
        if not source or not source.replace("_", "").replace("-", "").isalnum():
            raise InputError("name the source system, e.g. crm (letters, digits, - and _)")
        if mode not in MODES:
            raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        job = Job(uuid.uuid4().hex[:12], mode, source, file, by,
                  created_at=utcnow().isoformat(timespec="seconds"), sent_as=file)  # fmt: skip
        (self.folder / job.job_id).mkdir()
        return job

    def _enqueue(self, job: Job, path: Path) -> Job:
        job.file = str(path)
        with self._wake:
            self._jobs[job.job_id] = job
            self._cancel[job.job_id] = threading.Event()
            self._queue.append(job.job_id)
            self._save(job)
            self._wake.notify_all()
        return job

    # --- reading --------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: (j.created_at, j.job_id), reverse=True)

    def results(self, job_id: str, part: str = "xref") -> pd.DataFrame:
        """A part of a job's results: ``xref`` (each record's golden id and what
        happened to it), ``golden`` (the golden records the job created or changed) or
        ``review`` (the open review tasks about its records)."""
        job = self.get(job_id)
        if part not in PARTS:
            raise InputError(f"part {part!r} is not one of {', '.join(PARTS)}")
        name = "results.parquet" if part == "xref" else f"{part}.parquet"
        path = self.folder / job_id / name
        if not path.is_file():
            raise InputError(f"job {job_id} is {job.status}; results come when it is done")
        return read_frame(path)

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status not in ("queued", "running"):
            raise InputError(f"job {job_id} is {job.status}; only a waiting or running job stops")
        self._cancel[job_id].set()
        return job

    # --- working --------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                job_id = self._queue.pop(0)
            job = self._jobs[job_id]
            if job.kind == "full":
                self._run_full(job, self._cancel[job_id])
            else:
                self._run(job, self._cancel[job_id])

    def _run(self, job: Job, cancel: threading.Event) -> None:
        started = time.perf_counter()
        job.status, job.started_at = "running", utcnow().isoformat(timespec="seconds")
        rows: list[tuple[str, str, str, str]] = []
        try:
            job.stage = "reading"
            self._save(job)
            records, columns = read_batch([SourceSpec(job.source, Path(job.file))], self.rules_dir)
            job.mapped, job.unused = columns[job.source].rows(), list(columns[job.source].unused)
            job.records, job.stage = len(records), "matching"
            actions: Counter[str] = Counter()
            dropped: Counter[str] = Counter()
            actor = f"job:{job.job_id}"
            for start in range(0, len(records), WINDOW):
                if cancel.is_set():
                    break
                waiting = []
                for record in records[start : start + WINDOW]:
                    if cancel.is_set():
                        break
                    if self.store.was_erased(record):
                        actions["erased, left out"] += 1  # the right to be forgotten holds
                        continue
                    clock = time.perf_counter()
                    result, committed, fields = upsert_leniently(
                        lambda r: self.store.upsert(r, actor), record
                    )
                    if self.store.busy():  # matching goes first
                        time.sleep((time.perf_counter() - clock) * REST)
                    dropped.update(fields)
                    waiting.append((result, committed))
                for result, committed in waiting:
                    committed.result()  # durable before it counts as done
                    actions[result.action] += 1
                    rows.append((result.source, result.record_id, result.golden_id,
                                 result.action))  # fmt: skip
                job.done = len(rows)
                job.actions, job.unparseable = dict(actions), dict(dropped)
                job.seconds = round(time.perf_counter() - started, 2)
            status, error = ("cancelled" if cancel.is_set() else "done"), None
        except MdmError as failure:
            status, error = "failed", self._as_sent(job, str(failure))
        except Exception as failure:  # noqa: BLE001 - the job fails, the service goes on
            log.error("job %s failed: %s", job.job_id, type(failure).__name__)
            status, error = "failed", f"{type(failure).__name__}; see the service log"
        xref = pd.DataFrame(rows, columns=["source", "record_id", "golden_id", "action"])
        self._write_results(job, xref)  # before it says so: a client then fetches them
        job.stage = "finished"
        job.seconds = round(time.perf_counter() - started, 2)
        job.finished_at = utcnow().isoformat(timespec="seconds")
        job.status, job.error = status, error
        self._save(job)
        self._drop_input(job)

    # --- full jobs --------------------------------------------------------------------

    def _run_full(self, job: Job, cancel: threading.Event) -> None:
        """Reconcile the file and everything in the store in a child process, on a copy
        of the store; then make the copy the store and write again what real-time
        writes changed meanwhile (see the module docstring)."""
        started = time.perf_counter()
        folder = self.folder / job.job_id
        copy = folder / "store.duckdb"
        job.status, job.started_at = "running", utcnow().isoformat(timespec="seconds")
        holding = False
        try:
            self._stage(job, "copying")
            self.store.copy_for(copy, f"full job {job.job_id}")
            holding = True
            self._stage(job, "read")  # the child's first stage
            summary = self._child(job, copy, cancel)
            if summary is not None:
                self._stage(job, "engine")
                engine = self.store.engine_for(copy)
                self._stage(job, "replacing")
                rewritten = self.store.replace_with(copy, engine, f"job:{job.job_id}")
                holding = False
                job.actions = {**job.actions, "rewritten": rewritten}
                self._stage(job, "results")
                self._write_full_results(job)
                job.status = "done"
        except MdmError as error:
            job.status, job.error = "failed", self._as_sent(job, str(error))
        except Exception as error:  # noqa: BLE001 - the job fails, the service goes on
            log.error("job %s failed: %s", job.job_id, type(error).__name__)
            job.status, job.error = "failed", f"{type(error).__name__}; see the service log"
        finally:
            if holding:
                self.store.release()
            for leftover in (copy, Path(str(copy) + ".wal")):
                leftover.unlink(missing_ok=True)
            shutil.rmtree(folder / "tmp", ignore_errors=True)  # copies of customer values
        job.stage = "finished"
        job.seconds = round(time.perf_counter() - started, 2)
        job.finished_at = utcnow().isoformat(timespec="seconds")
        self._save(job)
        self._drop_input(job)

    def _drop_input(self, job: Job) -> None:
        """Delete the copy of an uploaded file once its job has ended (done, failed or
        cancelled): its values are in the store, where erasure can reach them, and a job
        that ended is never run again. A file named in the job folder is the user's and
        stays."""
        for path in (self.folder / job.job_id).glob("input.*"):
            path.unlink(missing_ok=True)

    def forget(self, records: Iterable[tuple[str, str]], golden_ids: Iterable[str]) -> int:
        """Take erased records and golden records out of every finished job's results;
        how many files were rewritten (see :func:`mdm.erasure.erase_from_job_results`)."""
        return erase_from_job_results(self.folder, records, golden_ids)

    def _child(self, job: Job, copy: Path, cancel: threading.Event) -> dict[str, Any] | None:
        """Run ``mdm reconcile`` on the copy; follow its stages. The summary it printed,
        or None when the job was cancelled (an MdmError when the run failed)."""
        folder = self.folder / job.job_id
        out_path, log_path = folder / "child.json", folder / "child.log"
        steps_path = folder / "progress.jsonl"
        command = [sys.executable, "-m", "mdm", "reconcile", f"{job.source}={job.file}",
                   "--db", str(copy), "--rules", str(self.rules), "--json",
                   "--progress-file", str(steps_path)]  # fmt: skip
        scratch = folder / "tmp"  # its work files: in the job's folder, removed with it
        scratch.mkdir(exist_ok=True)
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200",
                       "TMPDIR": str(scratch)}  # fmt: skip
        with out_path.open("w") as out, log_path.open("w") as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, env=environment)
        killed = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            self._follow(job, steps_path)
            if cancel.wait(0.5) and not killed:
                process.kill()
                killed = True
        process.returncode = os.waitstatus_to_exitcode(status)
        job.peak_rss_mib = round(usage.ru_maxrss / 1024, 1)
        if killed:
            job.status = "cancelled"
            return None
        if process.returncode != 0:
            errors = [step.error for step in read_progress(steps_path) if step.error]
            raise InputError(errors[-1] if errors else
                             f"the reconciliation stopped (exit {process.returncode})")  # fmt: skip
        summary: dict[str, Any] = json.loads(out_path.read_text())
        job.run_id = summary["run_id"]
        job.stages = summary["seconds"]
        mine = [s for s in summary["sources"] if s["name"] == job.source]
        job.records = job.done = mine[0]["records"] if mine else 0
        job.unparseable = {k: v for k, v in (mine[0]["unparseable"] if mine else {}).items() if v}
        job.mapped, job.unused = (mine[0]["mapped"], mine[0]["unused"]) if mine else ([], [])
        return summary

    def _follow(self, job: Job, steps_path: Path) -> None:
        """The child's latest stage, as it wrote it (:mod:`mdm.progress`): its name and
        detail, how many records it reads, and how far into the stage it is."""
        latest = None
        for step in read_progress(steps_path):
            if step.stage in FULL_STAGES:
                latest = step
            if step.stage == "standardise" and step.records is not None:
                job.records = step.records
        if latest is None:
            return
        assert latest.stage is not None  # one of FULL_STAGES
        steps = None
        if latest.total:
            assert latest.done is not None  # a stage's Detail gives done with total
            steps = (latest.done, latest.total)
        if (latest.stage, latest.detail, steps) != (job.stage, job.stage_detail, job.stage_steps):
            self._stage(job, latest.stage, latest.detail, steps)

    def _stage(
        self, job: Job, stage: str, detail: str = "", steps: tuple[int, int] | None = None
    ) -> None:
        job.stage, job.stage_detail, job.stage_steps = stage, detail, steps
        self._save(job)

    def _write_full_results(self, job: Job) -> None:
        assert job.run_id is not None  # the run the job made
        with self.store.read() as con:
            xref, golden, review = run_results(con, job.run_id, job.source)
        folder = self.folder / job.job_id
        write_frame(xref, folder / "results.parquet")
        write_frame(golden, folder / "golden.parquet")
        write_frame(review, folder / "review.parquet")
        job.actions = {**xref["action"].value_counts().sort_index().to_dict(), **job.actions}

    def _write_results(self, job: Job, xref: pd.DataFrame) -> None:
        """An incremental job's results: its records, and the golden records and open
        review tasks about the ones that changed."""
        folder = self.folder / job.job_id
        write_frame(xref, folder / "results.parquet")
        changed = xref[xref["action"] != "unchanged"]
        try:
            with self.store.read() as con:
                golden, review = results_about(con, changed)
        except MdmError as error:  # the store is busy: the records' part is what counts
            log.warning("job %s: golden and review results not kept: %s", job.job_id,
                        type(error).__name__)  # fmt: skip
            return
        write_frame(golden, folder / "golden.parquet")
        write_frame(review, folder / "review.parquet")

    def _recover(self, job: Job) -> None:
        """A job the service stopped under. An incremental job failed (its records are
        in up to where it stopped; send the file again). A full job whose copy had
        become the store (it was being put in place and the copy is gone) is finished;
        any other full job failed, and the store is as it was before it."""
        stopped_in = job.stage
        job.status, job.stage = "failed", "finished"
        job.error = "the service stopped; send the file again"
        if job.kind != "full":
            return
        folder = self.folder / job.job_id
        copy = folder / "store.duckdb"
        replaced = stopped_in == "replacing" and not copy.exists()
        for leftover in (copy, folder / "store.duckdb.wal"):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(folder / "tmp", ignore_errors=True)  # a killed run's work files
        if replaced and job.run_id is not None:
            try:
                self._write_full_results(job)
            except MdmError as error:
                job.error = f"the service stopped; results not kept: {type(error).__name__}"
                return
            job.status, job.error = "done", None
        self._save(job)

    def _save(self, job: Job) -> None:
        path = self.folder / job.job_id / "job.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(job)))
        temporary.replace(path)

    def close(self) -> None:
        with self._wake:
            self._closing = True
            for event in self._cancel.values():
                event.set()
            self._wake.notify_all()
        self._thread.join(timeout=60)
