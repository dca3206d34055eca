"""Who may call what: API keys, roles, and a rate limit per key.

Every ``/v1`` call needs a key (``Authorization: Bearer mdm_...`` or ``X-API-Key``;
:mod:`mdm.store.keys`). :data:`ACCESS` names, for each endpoint, the roles that may call it;
an endpoint missing from it is refused to everyone (fail closed, and a test checks
every endpoint is listed). The README's role table says the same, and a test calls
every endpoint with every role, and with no key, against that table.

No key or a bad key: 401. A key whose role may not call the endpoint: 403. Too many
calls from one key: 429 with ``Retry-After`` (a token bucket per key: ``rate`` calls a
second on average, bursts of up to ``burst``).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mdm.errors import MdmError
from mdm.store.keys import note_used

log = logging.getLogger("mdm.api")

ETL, OPS, STEWARD, ADMIN = "etl", "operational", "steward", "admin"

#: (method, path) -> the roles that may call it. Admin may call everything.
#: A path parameter's converter in a route's path (``{record_id:path}``).
_CONVERTER = re.compile(r":\w+}")

ACCESS: dict[tuple[str, str], frozenset[str]] = {
    (method, path): frozenset(roles)
    for method, path, roles in [
        ("POST", "/v1/match", (OPS, ADMIN)),
        ("POST", "/v1/records", (OPS, ADMIN)),
        ("GET", "/v1/records/{source}/{record_id}", (OPS, STEWARD, ADMIN)),
        ("GET", "/v1/records", (OPS, STEWARD, ADMIN)),
        ("DELETE", "/v1/records/{source}/{record_id}", (OPS, ADMIN)),
        ("DELETE", "/v1/records", (OPS, ADMIN)),
        ("GET", "/v1/golden/{golden_id}", (OPS, STEWARD, ADMIN)),
        ("GET", "/v1/golden/{golden_id}/history", (OPS, STEWARD, ADMIN)),
        ("PUT", "/v1/golden/{golden_id}/overrides/{attribute}", (STEWARD, ADMIN)),
        ("DELETE", "/v1/golden/{golden_id}/overrides/{attribute}", (STEWARD, ADMIN)),
        ("POST", "/v1/golden/merge", (STEWARD, ADMIN)),
        ("POST", "/v1/golden/{golden_id}/unmerge", (STEWARD, ADMIN)),
        ("POST", "/v1/golden/{golden_id}/erasure", (ADMIN,)),
        ("GET", "/v1/events", (OPS, STEWARD, ADMIN)),
        ("GET", "/v1/review/tasks", (STEWARD, ADMIN)),
        ("POST", "/v1/review/tasks/{task_id}/decision", (STEWARD, ADMIN)),
        ("GET", "/v1/names/variants", (STEWARD, ADMIN)),
        ("GET", "/v1/names/variants/export", (STEWARD, ADMIN)),
        ("POST", "/v1/names/variants", (STEWARD, ADMIN)),
        ("POST", "/v1/names/variants/approve", (STEWARD, ADMIN)),
        ("POST", "/v1/names/variants/reject", (STEWARD, ADMIN)),
        ("GET", "/v1/names/frequencies", (STEWARD, ADMIN)),
        ("POST", "/v1/jobs", (ETL, ADMIN)),
        ("POST", "/v1/jobs/from-path", (ETL, ADMIN)),
        ("GET", "/v1/jobs", (ETL, ADMIN)),
        ("GET", "/v1/jobs/{job_id}", (ETL, ADMIN)),
        ("GET", "/v1/jobs/{job_id}/results", (ETL, ADMIN)),
        ("DELETE", "/v1/jobs/{job_id}", (ETL, ADMIN)),
        ("GET", "/v1/keys", (ADMIN,)),
        ("POST", "/v1/keys", (ADMIN,)),
        ("DELETE", "/v1/keys/{key_id}", (ADMIN,)),
        ("POST", "/v1/backups", (ADMIN,)),
    ]
}


class AccessError(Exception):
    """A call refused for who made it (401, 403) or how often (429)."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, headers or {}


@dataclass(frozen=True)
class Caller:
    """Who made a call: the key's id, role and name."""

    key_id: str
    role: str
    name: str


class RateLimiter:
    """A token bucket per key: ``rate`` calls a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, key_id: str) -> float:
        """Take a token for ``key_id``: 0.0 if there was one, else the seconds until
        there will be (nothing is taken then)."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self.rate


def presented_token(request: Request) -> str | None:
    """The API key a request presents (Bearer or X-API-Key), unchecked."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def identify(request: Request) -> Caller:
    """The caller whose valid API key came with ``request`` (else AccessError 401).
    Reads only the headers."""
    token = presented_token(request)
    challenge = {"WWW-Authenticate": 'Bearer realm="mdm"'}
    if token is None:
        raise AccessError(
            401, "Unauthorized",
            "this call needs an API key: send 'Authorization: Bearer mdm_...' (an admin "
            "makes keys with 'mdm keys create NAME --role ROLE --db STORE')", challenge,
        )  # fmt: skip
    keys = request.app.state.keys
    found = keys.check(token)
    if found is None:
        problem = (
            "the API key has expired; an admin makes a new one ('mdm keys create')"
            if keys.expired(token)
            else "the API key is not valid (mistyped, or revoked)"
        )
        raise AccessError(401, "Unauthorized", problem, challenge)
    return Caller(*found)


class KeyFirst:
    """ASGI middleware: a ``/v1`` call without a valid key is answered 401 before its
    body is read, so a malformed or huge body from a stranger costs nothing and says
    nothing about what the endpoint expects. The role is checked by :func:`authorize`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1"):
            try:
                identify(Request(scope))
            except AccessError as error:
                response = JSONResponse(
                    {"error": {"type": error.kind, "message": str(error)}},
                    status_code=error.status,
                    headers=error.headers,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def write_key_uses(app: Any) -> None:
    """Write when keys were last used (:meth:`mdm.store.keys.KeyRing.take_unwritten`); a store
    that cannot take the write now loses only these times, and says so in the log.
    The service has :class:`mdm.store.keys.KeyUseWriter` call it, in that class's thread."""
    used = app.state.keys.take_unwritten()
    if not used:
        return
    try:
        with app.state.store.write(carried=True) as con:
            note_used(con, used)
    except (MdmError, duckdb.Error) as exc:
        log.warning("last use of key(s) %s not written: %s", ", ".join(sorted(used)), exc)


async def authorize(request: Request) -> Caller:
    """The caller of a ``/v1`` endpoint, if its key may call it (else AccessError)."""
    caller = identify(request)
    request.state.caller = caller  # known even when refused below (api.audit)
    route = request.scope.get("route")
    path = _CONVERTER.sub("}", getattr(route, "path", request.url.path))  # {id:path} -> {id}
    allowed = ACCESS.get((request.method, path), frozenset())
    if caller.role not in allowed:
        who = ", ".join(sorted(allowed)) or "no role"
        raise AccessError(
            403, "Forbidden",
            f"key {caller.key_id} ({caller.name}) has role {caller.role}; "
            f"{request.method} {path} is for {who}",
        )  # fmt: skip
    wait = request.app.state.rate_limiter.wait_for(caller.key_id)
    if wait > 0:
        raise AccessError(
            429, "TooManyRequests",
            f"key {caller.key_id} sends more than {request.app.state.rate_limiter.rate:g} "
            "calls a second; slow down and retry after the time in Retry-After",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )  # fmt: skip
    return caller
