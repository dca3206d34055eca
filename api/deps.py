"""Dependencies the routers declare: the store service and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from api.store import StoreService


def get_store(request: Request) -> StoreService:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[StoreService, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
