"""API keys: who may call the service, and in which role.

A key is ``mdm_<key id>_<secret>``. The store keeps the key id (public: it names the
key in lists and logs), the key's role and a SHA-256 hash of the whole key; the key
itself is shown once, when it is made. A presented key is found by its id and its
hash compared in constant time; an unknown id is compared against a dummy hash, so
the answer time does not tell which ids exist. Keys are 256-bit random tokens, so a
fast hash is enough (unlike passwords, :mod:`mdm.users`).

Roles (what each may call is in the README's table and :mod:`api.access`):

* ``etl``: bulk jobs (submit, follow, fetch results, cancel);
* ``operational``: match, upsert, delete, read records and golden records;
* ``steward``: review decisions, merge, unmerge, overrides, name variants, reads;
* ``admin``: everything, including keys and erasure.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import duckdb

from mdm.clock import utcnow
from mdm.errors import ConflictError, InputError, NotFoundError

ROLES = ("etl", "operational", "steward", "admin")
PREFIX = "mdm"
_DUMMY = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A key as listed (never its secret)."""

    key_id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def create_key(con: duckdb.DuckDBPyConnection, name: str, role: str, by: str) -> tuple[ApiKey, str]:
    """Make a key: (the key as listed, the token to hand over, shown only now)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("name the key (1 to 100 characters), e.g. the system that uses it")
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(6)
    token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32).replace('_', '-')}"
    now = utcnow()
    con.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
        [key_id, name, role, _hash(token), now, by],
    ).fetchall()
    return ApiKey(key_id, name, role, now, by), token


def list_keys(con: duckdb.DuckDBPyConnection, include_revoked: bool = False) -> list[ApiKey]:
    """Every key, newest first (revoked ones only if asked)."""
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    rows = con.execute(
        "SELECT key_id, name, role, created_at, created_by, revoked_at FROM api_keys "
        f"{where} ORDER BY created_at DESC, key_id"
    ).fetchall()
    return [ApiKey(*row) for row in rows]


def revoke_key(con: duckdb.DuckDBPyConnection, key_id: str, by: str) -> ApiKey:
    """Revoke a key: it is refused from now on (kept, for the record)."""
    rows = con.execute(
        "SELECT key_id, name, role, created_at, created_by, revoked_at FROM api_keys "
        "WHERE key_id = ?",
        [key_id],
    ).fetchall()
    if not rows:
        raise NotFoundError(f"no key {key_id}; 'mdm keys list' shows the keys")
    key = ApiKey(*rows[0])
    if not key.active:
        raise ConflictError(f"key {key_id} was revoked at {key.revoked_at}")
    now = utcnow()
    con.execute(
        "UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE key_id = ?", [now, by, key_id]
    ).fetchall()
    return ApiKey(key.key_id, key.name, key.role, key.created_at, key.created_by, now)


class KeyRing:
    """The active keys in memory, for checking a key on every request."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.reload(con)

    def reload(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute(
            "SELECT key_id, key_hash, role, name FROM api_keys WHERE revoked_at IS NULL"
        ).fetchall()
        self._keys = {key_id: (key_hash, role, name) for key_id, key_hash, role, name in rows}

    def __len__(self) -> int:
        return len(self._keys)

    def check(self, token: str) -> tuple[str, str, str] | None:
        """(key id, role, name) of a valid key; None otherwise (same time either way)."""
        parts = _split(token)
        key_id = parts[0] if parts else ""
        stored, role, name = self._keys.get(key_id, (_DUMMY, "", ""))
        matches = hmac.compare_digest(stored, _hash(token))
        if not matches or stored is _DUMMY:
            return None
        return key_id, role, name
