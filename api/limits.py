"""A limit on the size of request bodies, before any of it is parsed.

A body larger than the limit gets a 413 with a message saying the limit and what to do
instead. A declared ``Content-Length`` over the limit is refused at once; a body sent
without one (chunked) is counted as it arrives, and reading stops at the limit. Job
uploads (``POST /v1/jobs``) have a limit of their own: files are their point.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _message(size: str, limit: int, upload: bool) -> str:
    instead = (
        "split the file, or put it in the job folder and use POST /v1/jobs/from-path"
        if upload
        else "send fewer records per call, or send a file as a job (POST /v1/jobs)"
    )
    return f"the request body is {size}; this service takes at most {limit} bytes here: {instead}"


class BodyLimit:
    """ASGI middleware: 413 for bodies over ``limit`` (``upload_limit`` for job uploads)."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == "/v1/jobs"
        limit = self.upload_limit if upload else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, _message(f"{int(declared)} bytes", limit, upload))
            return
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}  # the app stops reading here
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app says about a cut-off body, the answer is 413
                if not started:
                    started = True
                    await _refuse(send, _message(f"over {limit} bytes", limit, upload))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
            if not started:
                await _refuse(send, _message(f"over {limit} bytes", limit, upload))


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": {"type": "PayloadTooLarge", "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
