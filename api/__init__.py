"""The HTTP service of mdm. Uses mdm; mdm never imports it.

The one part of it the command line loads is ``api.serve`` (``mdm serve``, found as an
installed entry point): importing this package loads nothing else, so the command
line never loads the web framework until the service starts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app
    from api.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    if name == "Settings":
        from api.settings import Settings

        return Settings
    raise AttributeError(f"module 'api' has no attribute {name!r}")
