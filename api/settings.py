"""Settings of the service: passed to ``create_app``, never read at import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mdm.bundled import DEFAULT_MATCH_RULES


class Settings(BaseModel):
    """What the service needs to know to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db: Path = Field(description="The DuckDB store file this process owns.")
    rules: Path = Field(
        default=DEFAULT_MATCH_RULES,
        description="Match rules (how name variants are learned, thresholds).",
    )
    max_page_size: int = Field(default=1000, ge=1, description="Most rows one list returns.")
    max_batch: int = Field(default=1000, ge=1, description="Most records one upsert call takes.")
    apply_delay: float = Field(
        default=0.5,
        ge=0,
        description="Seconds a journaled write may wait before it is written into the tables "
        "(reads never see it missing: they wait for it).",
    )

    session_secret: str | None = Field(
        default=None,
        description="Key that signs the steward pages' session cookies; without one, a new "
        "key per start (everyone signs in again after a restart).",
    )
    secure_cookies: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only (browsers treat localhost as "
        "secure; turn off only for plain HTTP on another host behind a trusted proxy).",
    )

    job_folder: Path | None = Field(
        default=None,
        description="A folder whose files jobs may name by path (none: uploads only).",
    )

    audit_log: Path | None = Field(
        default=None,
        description="A file to append one JSON line per API and page call to: who, which "
        "route and ids, how it ended; never search terms (api.audit). Default: none.",
    )
    backup_folder: Path | None = Field(
        default=None,
        description="Where POST /v1/backups writes (default: <store>.backups/ beside it).",
    )
    rate_limit: float = Field(
        default=1000.0, gt=0, description="Calls a second one API key may make on average."
    )
    rate_burst: int = Field(default=2000, ge=1, description="Calls one key may make at once.")
    max_body_bytes: int = Field(
        default=16 * 2**20, ge=1024, description="Largest request body (JSON calls)."
    )
    max_upload_bytes: int = Field(
        default=4 * 2**30, ge=1024, description="Largest file uploaded as a job."
    )

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from ``MDM_DB`` (required), ``MDM_RULES``, ``MDM_APPLY_DELAY``,
        ``MDM_SESSION_SECRET``, ``MDM_SECURE_COOKIES``, ``MDM_JOB_FOLDER``, ``MDM_AUDIT_LOG``,
        ``MDM_RATE_LIMIT``, ``MDM_RATE_BURST``, ``MDM_MAX_BODY_BYTES``,
        ``MDM_MAX_UPLOAD_BYTES``, ``MDM_MAX_PAGE_SIZE`` and ``MDM_MAX_BATCH``."""
        db = os.environ.get("MDM_DB")
        if not db:
            raise RuntimeError("set MDM_DB to the store file, e.g. MDM_DB=out/mdm.duckdb")
        values: dict[str, Any] = {"db": Path(db)}
        if os.environ.get("MDM_RULES"):
            values["rules"] = Path(os.environ["MDM_RULES"])
        if os.environ.get("MDM_APPLY_DELAY"):
            values["apply_delay"] = float(os.environ["MDM_APPLY_DELAY"])
        if os.environ.get("MDM_SESSION_SECRET"):
            values["session_secret"] = os.environ["MDM_SESSION_SECRET"]
        if os.environ.get("MDM_JOB_FOLDER"):
            values["job_folder"] = Path(os.environ["MDM_JOB_FOLDER"])
        if os.environ.get("MDM_AUDIT_LOG"):
            values["audit_log"] = Path(os.environ["MDM_AUDIT_LOG"])
        if os.environ.get("MDM_BACKUP_FOLDER"):
            values["backup_folder"] = Path(os.environ["MDM_BACKUP_FOLDER"])
        if os.environ.get("MDM_SECURE_COOKIES", "").lower() in ("0", "false", "no"):
            values["secure_cookies"] = False
        for name, field, kind in (
            ("MDM_RATE_LIMIT", "rate_limit", float),
            ("MDM_RATE_BURST", "rate_burst", int),
            ("MDM_MAX_BODY_BYTES", "max_body_bytes", int),
            ("MDM_MAX_UPLOAD_BYTES", "max_upload_bytes", int),
            ("MDM_MAX_PAGE_SIZE", "max_page_size", int),
            ("MDM_MAX_BATCH", "max_batch", int),
        ):
            if os.environ.get(name):
                values[field] = kind(os.environ[name])
        return cls(**values)
