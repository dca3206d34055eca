"""The service's one connection to its store, and the group-committing writer.

Real-time writes (upserts, deletes) are decided in memory by the engine and queued, in
the order they were decided, as change sets; one writer thread commits everything
waiting in the queue in one transaction (group commit) and only then are the callers
answered, so a 2xx means committed. Under load the writer commits many writes per
transaction, and the number of statements per transaction does not grow with them.

Other writes (a steward's decision, a name variant) take the whole store: no new
real-time write is decided until they commit, and the queue is empty before they start.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from mdm.errors import StoreError
from mdm.realtime.changes import ChangeSet, apply_changes
from mdm.realtime.engine import Engine
from mdm.store import open_store

log = logging.getLogger("mdm.service")

#: A writer commits at most this many change sets in one transaction.
MAX_GROUP = 500
#: The write-ahead log's size at which DuckDB checkpoints even under load.
CHECKPOINT_THRESHOLD = "1GB"
#: Seconds without writes after which the writer checkpoints.
IDLE_CHECKPOINT = 1.0
#: Seconds a thread may hold the GIL while another waits (Python's default is 0.005).
SWITCH_INTERVAL = 0.0005


class StoreService:
    """Owns the DuckDB file for the life of the process (DESIGN.md, Storage)."""

    def __init__(
        self,
        path: Path,
        engine_factory: Callable[[duckdb.DuckDBPyConnection], Engine | None] | None = None,
    ) -> None:
        self.path = path
        self._con = open_store(path)
        # DuckDB checkpoints (rewrites changed tables and their indexes into the file) at
        # the commit that takes its log past a threshold: at 16 MB, every few hundred
        # writes would pause for a checkpoint. The writer checkpoints when idle instead;
        # the threshold stays as a bound on the log under unbroken load.
        self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'").fetchall()
        self._dirty = False
        self._lock = threading.RLock()  # the connection
        self._pending: list[Callable[[], None]] = []
        self._factory = engine_factory
        self.engine: Engine | None = None
        #: Why real-time writes are refused (a failed commit, until the engine is rebuilt).
        self.broken: str | None = None
        self._queue: list[tuple[ChangeSet, Future]] = []
        self._queued = threading.Condition()
        self._idle = True
        self._closing = False
        # The writer hands the GIL back and forth with the event loop around every DuckDB
        # statement; at Python's default 5 ms switch interval it would wait up to 5 ms
        # each time (a commit of ~15 statements then takes ten times its own cost).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._writer = threading.Thread(target=self._write_loop, name="mdm-writer", daemon=True)
        self._writer.start()

    def start_engine(self) -> None:
        """Build the real-time engine from the store (None while it has no model)."""
        if self._factory is None:
            return
        with self._lock:
            self.engine = self._factory(self._con)
        # The engine's millions of long-lived objects out of the collector's sight: a
        # full collection would otherwise walk them all, pausing requests.
        gc.collect()
        gc.freeze()

    # --- real-time writes ------------------------------------------------------------

    def upsert(self, record: dict, actor: str) -> tuple[Any, Future]:
        """Decide an upsert and queue its changes: (result, future committed)."""
        return self._decide(lambda engine: engine.upsert(record, actor))

    def delete(self, source: str, record_id: str, actor: str) -> tuple[Any, Future]:
        """Decide a delete and queue its changes: (result, future committed)."""
        return self._decide(lambda engine: engine.delete(source, record_id, actor))

    def _decide(self, action: Callable[[Engine], tuple[Any, ChangeSet]]) -> tuple[Any, Future]:
        engine = self.current_engine()
        with engine.lock:  # decided and queued in one order
            if self.engine is not engine or self.broken:
                raise StoreError(self._refusal())
            result, changes = action(engine)
            return result, self._submit(changes)

    def current_engine(self) -> Engine:
        """The engine, or a StoreError (503) while there is none or it is rebuilt."""
        engine = self.engine
        if engine is None or self.broken:
            raise StoreError(self._refusal())
        return engine

    def _refusal(self) -> str:
        if self.broken:
            return f"the store is recovering from a failed write ({self.broken}); retry shortly"
        return (
            "the store has no trained model yet, so records cannot be matched: run "
            "'mdm reconcile SOURCE... --db STORE' once, then restart the service"
        )

    def _submit(self, changes: ChangeSet) -> Future:
        done: Future = Future()
        if not (changes.records or changes.golden or changes.events):
            done.set_result(None)  # nothing changed (an idempotent repeat)
            return done
        with self._queued:
            self._queue.append((changes, done))
            self._idle = False
            self._queued.notify()
        return done

    def _write_loop(self) -> None:
        while True:
            checkpoint = False
            with self._queued:
                if not self._queue and not self._closing:
                    self._idle = True
                    self._queued.notify_all()
                    # Nothing for a while: a good moment to checkpoint.
                    checkpoint = not self._queued.wait(timeout=IDLE_CHECKPOINT)
                if not self._queue and self._closing:
                    self._idle = True
                    self._queued.notify_all()
                    return
                batch, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            if batch:
                self._commit(batch)
            elif checkpoint and self._dirty:
                self._checkpoint()

    def _commit(self, batch: list[tuple[ChangeSet, Future]]) -> None:
        with self._lock:
            try:
                self._con.execute("BEGIN TRANSACTION").fetchall()
                apply_changes(self._con, [changes for changes, _ in batch])
                self._con.execute("COMMIT").fetchall()
                self._dirty = True
            except Exception as error:  # noqa: BLE001 - every waiting caller hears of it
                log.error("a group commit of %d writes failed: %s", len(batch), type(error))
                # Nothing may have begun, or DuckDB may have rolled back itself.
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK").fetchall()
                self._recover(batch, error)
                return
        for _, done in batch:
            done.set_result(None)

    def _checkpoint(self) -> None:
        """Write the log into the file, while nothing waits."""
        try:
            with self._lock:
                self._con.execute("CHECKPOINT").fetchall()
            self._dirty = False
        except duckdb.Error as error:  # try again at the next pause
            log.info("checkpoint postponed: %s", type(error).__name__)

    def _recover(self, batch: list[tuple[ChangeSet, Future]], error: Exception) -> None:
        """A commit failed: the engine's memory is ahead of the store. Refuse writes,
        fail everything queued (decided on that memory), rebuild the engine."""
        self.broken = type(error).__name__
        with self._queued:
            failed, self._queue = batch + self._queue, []
        for _, done in failed:
            done.set_exception(StoreError(f"the write was not committed ({self.broken}); retry"))
        try:
            self.start_engine()
        except Exception as again:  # noqa: BLE001 - stays refused; /health says why
            self.broken = f"{self.broken}, then rebuilding failed: {type(again).__name__}"
            log.error("the engine could not be rebuilt: %s", again)
            return
        self.broken = None

    def flush(self) -> None:
        """Wait until every queued write is committed (or failed)."""
        with self._queued:
            while not (self._idle and not self._queue):
                self._queued.wait()

    # --- other access ----------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for queries."""
        with self._lock:
            yield self._con

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection inside a transaction, with the store to itself: committed on
        success, rolled back on error. What :meth:`after_commit` registered runs once it
        committed; then the engine reads again what such writes change."""
        engine = self.engine
        hold = engine.lock if engine is not None else threading.RLock()
        with hold:
            self.flush()
            with self._lock:
                self._pending = []
                self._con.execute("BEGIN TRANSACTION").fetchall()
                try:
                    yield self._con
                except BaseException:
                    self._con.execute("ROLLBACK").fetchall()
                    self._pending = []
                    raise
                self._con.execute("COMMIT").fetchall()
                pending, self._pending = self._pending, []
                for action in pending:
                    action()
                if engine is not None:
                    engine.sync(self._con)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current write transaction has committed."""
        self._pending.append(action)

    def close(self) -> None:
        """Commit what is queued, stop the writer, release the file."""
        with self._queued:
            self._closing = True
            self._queued.notify_all()
        self._writer.join(timeout=60)
        with self._lock:
            self._con.close()
