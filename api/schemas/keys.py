"""API keys on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Actor, Request, Timestamp


class KeyCreate(Request):
    """A key to make: who or what will use it, and in which role."""

    name: str = Field(min_length=1, max_length=100, description="e.g. the system using it")
    role: Literal["etl", "operational", "steward", "admin"]
    by: Actor
    expires_at: Timestamp | None = Field(
        None, description="When the key stops working (RFC 3339; no zone: UTC). Default: never."
    )

    def expiry_utc(self) -> datetime | None:
        """``expires_at`` in UTC without a zone, as the store keeps times."""
        if self.expires_at is None:
            return None
        return self.expires_at.astimezone(UTC).replace(tzinfo=None)

    model_config = {
        "json_schema_extra": {
            "examples": [{"name": "web shop", "role": "operational", "by": "ops"}]
        }  # fmt: skip
    }


class KeyPublic(BaseModel):
    """A key as listed: never its secret."""

    key_id: str
    name: str
    role: str
    created_at: Timestamp
    created_by: str
    revoked_at: Timestamp | None = None
    revoked_by: str | None = None
    expires_at: Timestamp | None = None
    last_used_at: Timestamp | None = Field(
        None, description="When the key was last used, to within ten minutes."
    )


class KeyCreated(KeyPublic):
    """A new key: ``token`` is shown this once; only its hash is kept."""

    token: str


class KeyList(BaseModel):
    keys: list[KeyPublic]
    count: int


class BackupCreate(Request):
    """A backup to take: its file name in the backup folder (without .duckdb)."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

    model_config = {"json_schema_extra": {"examples": [{"name": "2026-11-22"}]}}


class BackupPublic(BaseModel):
    """A backup taken: its path, size, SHA-256 and the store's fingerprint then."""

    path: str
    bytes: int
    sha256: str
    fingerprint: str
