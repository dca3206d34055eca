"""The audit log: who read, changed or was refused what, one JSON line per call.

Turned on with ``mdm serve --audit-log FILE`` (or ``MDM_AUDIT_LOG``). Every call to
the API (``/v1``) and to the steward pages (``/ui``, not their static files) gets a
line once it is answered::

    {"at": "2026-12-07T10:31:02.114Z", "method": "GET", "route": "/v1/golden/{golden_id}",
     "ids": {"golden_id": "G3F2A9C01B7D4"}, "status": 200, "outcome": "answered",
     "key": "3f2a9c01b7d4", "user": null, "client": "10.0.0.7"}

It names the caller (the API key's id, or the signed-in steward), the route and the
ids in its path (whose record or customer was read or changed), and how the call
ended: ``answered``, ``refused`` (401, 403, 429: no or a wrong key, a role that may
not, too many calls) or ``failed`` (any other 4xx or 5xx). A refused key is named by
the id it claims (``claimed_key``), which may not exist. Search terms never reach the
log: no query string, no body (a match request's names and emails, a steward's
search), only the route and its path ids.

Unlike uvicorn's access log (``--access-log``), which writes every URL with its query
string, this log is meant to be kept.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import presented_token
from mdm.store.keys import claimed_key_id

#: Paths whose calls are logged, and those among them that are not.
AUDITED = ("/v1", "/ui")
NOT_AUDITED = ("/ui/static",)
#: Answers that refuse the caller rather than fail the call.
REFUSED = frozenset({401, 403, 429})


def audit_logger(path: Path) -> logging.Logger:
    """A logger writing one line per record to ``path`` (appended, kept private by the
    process's umask), used by this log alone (it does not reach the root logger)."""
    logger = logging.Logger(f"mdm.audit:{path}")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    return logger


class AuditLog:
    """ASGI middleware writing one line per audited call to ``logger``. It sits
    outside every other middleware, so calls they refuse (a missing key, a body too
    large) are logged too."""

    def __init__(self, app: ASGIApp, logger: logging.Logger) -> None:
        self.app, self.logger = app, logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(AUDITED) or path.startswith(NOT_AUDITED):
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.logger.info(json.dumps(entry(scope, status), ensure_ascii=False))


def entry(scope: Scope, status: int) -> dict[str, Any]:
    """The log line of one answered call, from its ASGI scope (after routing and the
    handlers, which leave the route, its path ids and the caller in it)."""
    state = scope.get("state") or {}
    caller = state.get("caller")
    route = scope.get("route")
    line: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": scope.get("method"),
        "route": getattr(route, "path", None) or "(no such route)",
        "ids": {k: str(v) for k, v in (scope.get("path_params") or {}).items()},
        "status": status,
        "outcome": "answered" if status < 400 else "refused" if status in REFUSED else "failed",
        "key": caller.key_id if caller is not None else None,
        "user": state.get("user"),
        "client": (scope.get("client") or [None])[0],
    }
    if caller is None and scope.get("path", "").startswith("/v1"):
        line["claimed_key"] = claimed_key_id(presented_token(Request(scope)))
    return line
