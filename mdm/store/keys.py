"""API keys: who may call the service, and in which role.

A key is ``mdm_<key id>_<secret>``. The store keeps the key id (public: it names the
key in lists and logs), the key's role and a SHA-256 hash of the whole key; the key
itself is shown once, when it is made. A presented key is found by its id and its
hash compared in constant time; an unknown id is compared against a dummy hash, so
the answer time does not tell which ids exist. Keys are 256-bit random tokens, so a
fast hash is enough (unlike passwords, :mod:`mdm.store.users`).

A key may expire (``expires_at``): from then on it is refused like a revoked one. The
service notes when each key was last used (``last_used_at``) in memory, shows it at
once in its key list, and writes it to the store every :data:`LAST_USED_RESOLUTION`
and when it stops (:class:`KeyUseWriter`, its thread): a busy key costs no write per call.

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
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import duckdb

from mdm.clock import utcnow
from mdm.errors import ConflictError, InputError, NotFoundError

ROLES = ("etl", "operational", "steward", "admin")
PREFIX = "mdm"
_DUMMY = hashlib.sha256(b"no such key").hexdigest()

#: How often the service writes keys' last uses to the store (and, within that, how
#: stale a stored ``last_used_at`` may be while it runs).
LAST_USED_RESOLUTION = timedelta(minutes=10)

_COLUMNS = (
    "key_id, name, role, created_at, created_by, revoked_at, expires_at, last_used_at, revoked_by"
)


@dataclass(frozen=True)
class ApiKey:
    """A key as listed (never its secret)."""

    key_id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_by: str | None = None

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and not _expired(self.expires_at, utcnow())

    @property
    def state(self) -> str:
        """ "active", "revoked <date>" or "expired <date>", for a person to read."""
        if self.revoked_at is not None:
            return f"revoked {self.revoked_at:%Y-%m-%d}"
        if _expired(self.expires_at, utcnow()):
            return f"expired {self.expires_at:%Y-%m-%d}"
        return "active"


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """When a key given ``--expires TEXT`` stops working (UTC): ``"90d"`` (days from
    now), a date (midnight UTC at its start) or an ISO time (UTC unless it names a zone)."""
    now = now or utcnow()
    value = text.strip()
    if value[:-1].isdigit() and value[-1:].lower() == "d":
        return now + timedelta(days=int(value[:-1]))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--expires {text!r} is neither a number of days ('90d') nor a date "
            "('2027-06-30') or a UTC time ('2027-06-30T12:00')"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def claimed_key_id(token: str | None) -> str | None:
    """The key id a presented token claims (public; the key may not exist), at most 40
    characters; None for a token not of the form ``mdm_<id>_<secret>``."""
    parts = _split(token) if token else None
    return parts[0][:40] if parts else None


def create_key(
    con: duckdb.DuckDBPyConnection,
    name: str,
    role: str,
    by: str,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Make a key: (the key as listed, the token to hand over, shown only now). A key
    with ``expires_at`` (UTC) is refused from that moment."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("name the key (1 to 100 characters), e.g. the system that uses it")
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise InputError(
            f"the key would expire at {expires_at:%Y-%m-%d %H:%M} UTC, which has passed; "
            "give a time in the future"
        )
    key_id = secrets.token_hex(6)
    token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32).replace('_', '-')}"
    con.execute(
        "INSERT INTO api_keys (key_id, name, role, key_hash, created_at, created_by, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [key_id, name, role, _hash(token), now, by, expires_at],
    ).fetchall()
    return ApiKey(key_id, name, role, now, by, expires_at=expires_at), token


def list_keys(con: duckdb.DuckDBPyConnection, include_revoked: bool = False) -> list[ApiKey]:
    """Every key, newest first (revoked and expired ones only if asked)."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at DESC, key_id"
    ).fetchall()
    keys = [ApiKey(*row) for row in rows]
    return keys if include_revoked else [k for k in keys if k.active]


def revoke_key(con: duckdb.DuckDBPyConnection, key_id: str, by: str) -> ApiKey:
    """Revoke a key: it is refused from now on (kept, for the record)."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchall()
    if not rows:
        raise NotFoundError(f"no key {key_id}; 'mdm keys list' shows the keys")
    key = ApiKey(*rows[0])
    if key.revoked_at is not None:
        raise ConflictError(f"key {key_id} was revoked at {key.revoked_at}")
    now = utcnow()
    con.execute(
        "UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE key_id = ?", [now, by, key_id]
    ).fetchall()
    return replace(key, revoked_at=now, revoked_by=by)


def note_used(con: duckdb.DuckDBPyConnection, used: dict[str, datetime]) -> None:
    """Record when keys were last used (key id -> time; an earlier time never wins)."""
    for key_id, at in sorted(used.items()):
        con.execute(
            "UPDATE api_keys SET last_used_at = greatest(coalesce(last_used_at, ?), ?) "
            "WHERE key_id = ?",
            [at, at, key_id],
        ).fetchall()


class KeyRing:
    """The active keys in memory, for checking a key on every request."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._lock = threading.Lock()
        #: key id -> its latest use not yet written (kept across reloads).
        self._unwritten: dict[str, datetime] = {}
        self.reload(con)

    def reload(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute(
            "SELECT key_id, key_hash, role, name, expires_at, last_used_at FROM api_keys "
            "WHERE revoked_at IS NULL"
        ).fetchall()
        with self._lock:
            self._keys = {key_id: (key_hash, role, name, expires) for key_id, key_hash, role,
                          name, expires, _ in rows}  # fmt: skip
            #: key id -> when its last use was written (or found written) in the store.
            self._written = {row[0]: row[5] for row in rows if row[5] is not None}
            self._unwritten = {k: at for k, at in self._unwritten.items() if k in self._keys}

    def __len__(self) -> int:
        return len(self._keys)

    def check(self, token: str) -> tuple[str, str, str] | None:
        """(key id, role, name) of a valid key, its use noted; None otherwise (a key
        unknown, wrong, revoked or expired: the same time either way)."""
        parts = _split(token)
        key_id = parts[0] if parts else ""
        stored, role, name, expires = self._keys.get(key_id, (_DUMMY, "", "", None))
        matches = hmac.compare_digest(stored, _hash(token))
        now = utcnow()
        if not matches or stored is _DUMMY or _expired(expires, now):
            return None
        with self._lock:
            written = self._written.get(key_id)
            if written is None or now - written >= LAST_USED_RESOLUTION:
                self._unwritten[key_id] = now
        return key_id, role, name

    def expired(self, token: str) -> bool:
        """Whether ``token`` is a right key past its expiry (to say so when refusing)."""
        parts = _split(token)
        found = self._keys.get(parts[0]) if parts else None
        return (
            found is not None
            and hmac.compare_digest(found[0], _hash(token))
            and _expired(found[3], utcnow())
        )

    def with_last_use(self, key: ApiKey) -> ApiKey:
        """``key`` with the latest use this ring has seen, written or not yet."""
        with self._lock:
            seen = self._unwritten.get(key.key_id) or self._written.get(key.key_id)
        if seen is None or (key.last_used_at is not None and key.last_used_at >= seen):
            return key
        return replace(key, last_used_at=seen)

    def take_unwritten(self) -> dict[str, datetime]:
        """The uses to write now (:func:`note_used`), each key at most once per
        :data:`LAST_USED_RESOLUTION`; they count as written from here on."""
        with self._lock:
            taken, self._unwritten = self._unwritten, {}
            self._written.update(taken)
        return taken


class KeyUseWriter:
    """Calls ``write`` (the service writing when keys were last used) every ``interval``
    seconds, in a thread of its own, and once more when stopped: a write takes the
    store to itself, so it is not done per call."""

    def __init__(self, write: Callable[[], None], interval: float) -> None:
        self.write, self.interval = write, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mdm-key-uses", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.write()

    def stop(self) -> None:
        """End the thread, then write once more (the uses since its last write)."""
        self._stop.set()
        self._thread.join()
        self.write()
