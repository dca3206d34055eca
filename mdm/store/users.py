"""People who sign in to the steward pages, and their roles.

A user has a name, a role (``steward``: reads and decides; ``viewer``: reads) and a
password kept as a salted scrypt hash (:func:`hashlib.scrypt`, memory-hard; compared in
constant time). Signing in with an unknown name costs the same as with a wrong
password, so the answer time does not tell which names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import duckdb

from mdm.clock import utcnow
from mdm.errors import ConflictError, InputError, NotFoundError

ROLES = ("steward", "viewer")
#: scrypt cost: 2**14 x 8 x 1 needs 16 MiB and ~50 ms; an attacker pays the same per guess.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    username: str
    role: str
    created_at: datetime

    @property
    def can_decide(self) -> bool:
        return self.role == "steward"


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64) for a password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        found = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(found, expected)


#: Checked when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY = hash_password(secrets.token_hex(8))


def add_user(con: duckdb.DuckDBPyConnection, username: str, password: str, role: str) -> User:
    """Add a user (in the caller's transaction)."""
    username = (username or "").strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise InputError("a user name is 1 to 100 characters without spaces, e.g. j.smith")
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchall():
        raise ConflictError(f"user {username} exists; remove it first to change it")
    now = utcnow()
    con.execute(
        "INSERT INTO users VALUES (?, ?, ?, ?)", [username, hash_password(password), role, now]
    ).fetchall()
    return User(username, role, now)


def set_password(con: duckdb.DuckDBPyConnection, username: str, password: str) -> None:
    """Give ``username`` a new password (in the caller's transaction)."""
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    changed = con.execute(
        "UPDATE users SET password_hash = ? WHERE username = ? RETURNING 1",
        [hash_password(password), username],
    ).fetchall()
    if not changed:
        raise NotFoundError(f"no user {username}")


def remove_user(con: duckdb.DuckDBPyConnection, username: str) -> None:
    gone = con.execute("DELETE FROM users WHERE username = ? RETURNING 1", [username]).fetchall()
    if not gone:
        raise NotFoundError(f"no user {username}")


def list_users(con: duckdb.DuckDBPyConnection) -> list[User]:
    return [
        User(*row)
        for row in con.execute(
            "SELECT username, role, created_at FROM users ORDER BY username"
        ).fetchall()
    ]


def authenticate(con: duckdb.DuckDBPyConnection, username: str, password: str) -> User | None:
    """The user, if the name and password match; else None (in the same time)."""
    row = con.execute(
        "SELECT username, role, created_at, password_hash FROM users WHERE username = ?",
        [(username or "").strip()],
    ).fetchall()
    stored = row[0][3] if row else _DUMMY
    matches = check_password(password or "", stored)
    return User(*row[0][:3]) if row and matches else None


def get_user(con: duckdb.DuckDBPyConnection, username: str) -> User | None:
    row = con.execute(
        "SELECT username, role, created_at FROM users WHERE username = ?", [username]
    ).fetchall()
    return User(*row[0]) if row else None
