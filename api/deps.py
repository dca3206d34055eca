"""Dependencies the routers declare: the store service, the engine and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from api.store import StoreService
from mdm.realtime.engine import Engine


async def get_store(request: Request) -> StoreService:
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    return request.app.state.store.current_engine()  # 503 while there is none


StoreDep = Annotated[StoreService, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
