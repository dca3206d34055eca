"""The service in a thread on loopback, for benchmarks that talk to it over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api import Settings, create_app


def admin_headers(db) -> dict[str, str]:
    """Headers with a new admin key for the store at ``db`` (made before it is served)."""
    from mdm.store import open_store
    from mdm.store.keys import create_key

    con = open_store(db)
    try:
        token = create_key(con, "benchmark", "admin", "benchmarks")[1]
    finally:
        con.close()
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[str, float, dict[str, str]]]:
    """(base URL, seconds the service took to start, headers with an admin key) while
    the block runs. The rate limit is lifted: benchmarks measure the service."""
    headers = admin_headers(settings.db)
    settings = settings.model_copy(update={"rate_limit": 1e9, "rate_burst": 10**9})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    started = time.perf_counter()
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", round(time.perf_counter() - started, 1), headers
    finally:
        server.should_exit = True
        thread.join(timeout=60)
