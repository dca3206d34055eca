"""Dependencies the routers declare: the store service, the engine and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from api.access import Caller
from api.settings import Settings
from mdm.realtime.engine import Engine
from mdm.store.service import StoreService


async def get_store(request: Request) -> StoreService[Engine]:
    store: StoreService[Engine] = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.store.current_engine()  # 503 while there is none
    return engine


async def get_caller(request: Request) -> Caller:
    """The key a /v1 call came with (checked by :func:`api.access.authorize`)."""
    caller: Caller = request.state.caller
    return caller


def acting(caller: Caller, by: str | None) -> str:
    """Who an event names: what the caller says it is (``by``, a note) and the key it
    called with, which it cannot choose: ``crm-sync [key k_3f2a]``."""
    return f"{by} [key {caller.key_id}]" if by else f"[key {caller.key_id}]"


StoreDep = Annotated[StoreService[Engine], Depends(get_store)]
CallerDep = Annotated[Caller, Depends(get_caller)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def page(limit: int, settings: Settings) -> int:
    """``limit`` if one page may hold that many rows; else a 422 that names the most
    (a list never silently returns fewer rows than asked for)."""
    if limit > settings.max_page_size:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "limit"),
                    "msg": f"Input should be less than or equal to {settings.max_page_size}, "
                    "the most rows one page returns (MDM_MAX_PAGE_SIZE); ask for fewer",
                    "input": limit,
                }
            ]
        )
    return limit
