"""The FastAPI application: ``create_app(settings)``; ``mdm serve`` runs it with uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import duckdb
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from api.access import KeyFirst, RateLimiter, authorize, write_key_uses
from api.audit import AuditLog, audit_logger
from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.routers import events, jobs, keys, lifecycle, names, records, review
from api.security_headers import SecurityHeaders
from api.settings import Settings
from api.web import install_web
from mdm.jobs import Jobs
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store import private_files
from mdm.store.keys import LAST_USED_RESOLUTION, KeyRing, KeyUseWriter
from mdm.store.reads import has_model
from mdm.store.service import StoreService


def create_app(settings: Settings) -> FastAPI:
    """The service over the store ``settings.db`` (created if missing)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = StoreService(
            settings.db, engine_factory(settings), apply_delay=settings.apply_delay
        )
        app.state.store.start_engine()
        with app.state.store.read() as con:
            app.state.keys = KeyRing(con)
        key_uses = KeyUseWriter(lambda: write_key_uses(app), LAST_USED_RESOLUTION.total_seconds())
        app.state.jobs = Jobs(app.state.store, settings.rules, settings.job_folder)
        try:
            yield
        finally:
            app.state.jobs.close()
            key_uses.stop()
            app.state.store.close()

    # /docs (Swagger UI) and /redoc load their scripts and styles from the package
    # (fastapi-offline ships them), never from a CDN: they work without internet.
    app = FastAPIOffline(
        title="mdm",
        summary="Customer master data: match, golden records, review, name variants.",
        version="0.1.0",
        lifespan=lifespan,
        static_url="/docs/static",
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes
    )
    app.add_middleware(KeyFirst)  # outside BodyLimit: a stranger gets 401, not 413
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    keyed = [Depends(authorize)]  # every /v1 call: a key whose role may make it
    for router in (records, names, review, events, lifecycle, jobs, keys):
        app.include_router(router.router, dependencies=keyed)
    app.include_router(keys.backups, dependencies=keyed)
    install_web(app, settings)
    if settings.audit_log is not None:  # outermost: calls refused by the others too
        app.add_middleware(AuditLog, logger=audit_logger(settings.audit_log))

    @app.get("/health", tags=["service"])
    async def health() -> dict[str, object]:
        """The service is up and owns its store; ``degraded`` says why writes may fail
        (a journal write failed and the engine is being rebuilt, or journaled writes
        cannot be written into the tables); ``unapplied`` counts journaled writes not
        yet in the tables. Anyone may call it, so it names no file or path."""
        store = app.state.store
        problems = [p for p in (store.broken, store.apply_error) if p]
        return {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "unapplied": store.backlog,
        }

    return app


def engine_factory(settings: Settings) -> Callable[[duckdb.DuckDBPyConnection], Engine | None]:
    """How the service builds its real-time engine from the store's records (None until
    the store has a trained model)."""
    bundle = RulesBundle.load(settings.rules)

    def build(con: duckdb.DuckDBPyConnection) -> Engine | None:
        if not has_model(con):
            return None
        return Engine(con, bundle.survivorship, bundle.rules_dir)

    return build


def app_from_env() -> FastAPI:
    """The app configured from the environment (what ``mdm serve`` asks uvicorn to run)."""
    private_files()  # also when a deployment runs uvicorn on this factory itself
    return create_app(Settings.from_env())
