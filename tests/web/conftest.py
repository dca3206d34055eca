"""A running service with signed-in users, for the steward pages."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from api import Settings
from mdm.store.users import add_user
from tests.api.conftest import LiveServer

PASSWORDS = {"ann": "correct horse battery", "vic": "viewer password 1", "bo": "second steward 2"}
ROLES = {"ann": "steward", "vic": "viewer", "bo": "steward"}


@pytest.fixture
def web_db(reconciled_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:
        for name, password in PASSWORDS.items():
            add_user(con, name, password, ROLES[name])
    return db


@pytest.fixture
def web(web_db: Path) -> Iterator[LiveServer]:
    """The service with cookies allowed over plain HTTP (httpx, unlike a browser, does
    not treat loopback as secure)."""
    with LiveServer(Settings(db=web_db, secure_cookies=False)) as server:
        yield server


def token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no form token on the page"
    return found.group(1)


@pytest.fixture
def sign_in(web: LiveServer) -> Iterator:
    """sign_in(name): an HTTP client with that user's session (closed afterwards)."""
    clients: list[httpx.Client] = []

    def open_session(name: str) -> httpx.Client:
        client = httpx.Client(base_url=web.url, timeout=30)
        clients.append(client)
        page = client.get("/ui/login").text
        answer = client.post(
            "/ui/login",
            data={"csrf": token(page), "username": name, "password": PASSWORDS[name]},
        )
        assert answer.status_code == 303, answer.text
        return client

    yield open_session
    for client in clients:
        client.close()
