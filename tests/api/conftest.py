"""A real server on loopback: uvicorn serving the app over a copy of a reconciled store."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api import Settings, create_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_key(db: Path) -> str:
    """A new admin key in the store at ``db`` (made before the service opens it)."""
    from mdm.store import open_store
    from mdm.store.keys import create_key

    con = open_store(db)
    try:
        return create_key(con, "tests", "admin", "tests")[1]
    finally:
        con.close()


class LiveServer:
    """uvicorn in a thread; ``client`` talks to it over TCP with an admin key (``anon``:
    with none); :meth:`key` makes keys of other roles through the API."""

    def __init__(self, settings: Settings) -> None:
        self.token = admin_key(settings.db)
        self.port = _free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.client = httpx.Client(base_url=self.url, timeout=30, headers=self.headers)
        self.anon = httpx.Client(base_url=self.url, timeout=30)
        return self

    def key(self, role: str, name: str = "test") -> str:
        """A new key with ``role``, made by the admin key."""
        made = self.client.post("/v1/keys", json={"name": name, "role": role, "by": "tests"})
        made.raise_for_status()
        return made.json()["token"]

    def as_role(self, role: str) -> httpx.Client:
        """A client that calls with a new key of ``role``."""
        token = self.key(role)
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.anon.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def served_db(reconciled_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    return db


@pytest.fixture
def live(served_db: Path) -> Iterator[LiveServer]:
    with LiveServer(Settings(db=served_db)) as server:
        yield server
