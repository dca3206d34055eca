"""Errors as JSON: a message that says what was wrong and how to fix the request."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access import AccessError
from mdm.errors import ConflictError, MdmError, NotFoundError, NothingToMatchError, StoreError


def status_of(error: MdmError) -> int:
    """The HTTP status that says what kind of problem ``error`` is."""
    if isinstance(error, NothingToMatchError):
        return 422
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, StoreError):
        return 503
    return 400


def _body(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


def _where(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Map mdm's errors and request validation failures to JSON 4xx responses."""

    @app.exception_handler(MdmError)
    async def mdm_error(_: Request, error: MdmError) -> JSONResponse:
        code = status_of(error)
        headers = {"Retry-After": "5"} if code == 503 else None  # the store is busy, briefly
        return JSONResponse(
            _body(type(error).__name__, str(error)), status_code=code, headers=headers
        )

    @app.exception_handler(AccessError)
    async def access_error(_: Request, error: AccessError) -> JSONResponse:
        return JSONResponse(
            _body(error.kind, str(error)), status_code=error.status, headers=error.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        message = str(error.detail)
        if message == "There was an error parsing the body":
            message = "the request body could not be read: send JSON (UTF-8) or a form as declared"
        return JSONResponse(
            _body("HTTPError", message), status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _where(tuple(item.get("loc", ()))), "problem": item.get("msg", "")}
            for item in error.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return JSONResponse(
            _body("ValidationError", f"the request is invalid: {message}", problems=problems),
            status_code=422,
        )
