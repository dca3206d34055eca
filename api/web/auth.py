"""Who is signed in, what they may do, and the token every form carries."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from mdm.store.users import User, get_user

#: The cookie's key for the server-side session id (see :mod:`mdm.signin`).
SESSION_ID = "sid"
SESSION_CSRF = "csrf"


class SignInRequired(Exception):
    """The page needs a signed-in user (answered with a redirect to the sign-in page)."""


class Forbidden(Exception):
    """The signed-in user's role may not do this (answered with a 403 page)."""


class BadToken(Exception):
    """A form came without the session's token (answered with a 403 page)."""


def csrf_token(request: Request) -> str:
    """The session's form token (made on first use)."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


async def check_form(request: Request) -> FormData:
    """The posted form, once its token matches the session's."""
    form = await request.form()
    sent = str(form.get("csrf", ""))
    expected = request.session.get(SESSION_CSRF, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise BadToken()
    return form


def current_user(request: Request) -> User:
    """The signed-in user (looked up on every request, so a removed user is out at once;
    a plain function, so FastAPI runs the lookup off the event loop)."""
    name = request.app.state.sessions.user(request.session.get(SESSION_ID))
    if not name:
        request.session.pop(SESSION_ID, None)
        raise SignInRequired()
    with request.app.state.store.read() as con:
        user = get_user(con, name)
    if user is None:  # removed since: none of their sessions opens anything
        request.app.state.sessions.end_all(name)
        request.session.clear()
        raise SignInRequired()
    request.state.user = name  # for the audit log (api.audit)
    return user


def signed_in_or_none(request: Request) -> User | None:
    """The signed-in user, or None (for pages any visitor may see, such as an error
    page, which keep the navigation of whoever is signed in)."""
    try:
        return current_user(request)
    except SignInRequired:
        return None


async def steward(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.can_decide:
        raise Forbidden()
    return user


UserDep = Annotated[User, Depends(current_user)]
StewardDep = Annotated[User, Depends(steward)]
