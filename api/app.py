"""The FastAPI application: ``create_app(settings)``; ``mdm serve`` runs it with uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routers import names, review
from api.settings import Settings
from api.store import StoreService


def create_app(settings: Settings) -> FastAPI:
    """The service over the store ``settings.db`` (created if missing)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = StoreService(settings.db)
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(
        title="mdm",
        summary="Customer master data: match, golden records, review, name variants.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(names.router)
    app.include_router(review.router)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """The service is up and owns its store."""
        return {"status": "ok", "store": str(settings.db)}

    return app


def app_from_env() -> FastAPI:
    """The app configured from the environment (what ``mdm serve`` asks uvicorn to run)."""
    return create_app(Settings.from_env())
