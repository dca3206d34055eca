"""The data steward's workbench: server-rendered pages under ``/ui`` (Jinja2 templates,
plain HTML forms, a few lines of JavaScript for keyboard shortcuts; no front-end build).

Signing in makes a session (a signed cookie: HttpOnly, SameSite=Strict, Secure unless
the settings allow plain HTTP); every form carries a token tied to the session, so
another site cannot post on a steward's behalf. Viewers read; stewards decide.
"""

from __future__ import annotations

from api.web.pages import install_web

__all__ = ["install_web"]
