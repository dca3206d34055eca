"""The HTTP service of mdm. Uses mdm; mdm never imports it."""

from api.app import create_app
from api.settings import Settings

__all__ = ["Settings", "create_app"]
