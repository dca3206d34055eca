"""Dependencies the routers declare: the store service, the engine and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from api.store import StoreService
from mdm.errors import StoreError
from mdm.realtime.engine import Engine


def get_store(request: Request) -> StoreService:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    engine = request.app.state.store.engine
    if engine is None:
        raise StoreError(
            "the store has no trained model yet, so records cannot be matched: run "
            "'mdm reconcile SOURCE... --db STORE' once, then restart the service"
        )
    return engine


StoreDep = Annotated[StoreService, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
