"""The service's hold on its store: real-time writes through a journal, everything else
through one connection.

A real-time write (upsert, delete) is decided in memory by the engine and queued, in
the order it was decided, as a change set. The *journal writer* appends everything
waiting to the store's journal table in one transaction (group commit) and only then
are the callers answered: a 2xx means committed. The *applier* writes journaled change
sets into the tables (records, golden records, lineage, ...) in batches, on its own
connection, so that a long batch never holds up a commit. Reads wait until what was
acknowledged before them is in the tables. Whatever stops the service, the next open
of the store writes the rest of the journal into the tables first (mdm.store).

Other writes (a steward's decision, a name variant) take the whole store: no new
real-time write is decided until they commit, and the journal is empty before they
start.

The engine that decides real-time writes is the caller's (``engine_factory``): this
module knows it only as a :class:`Decider`, so the store layer does not depend on the
real-time layer above it. The HTTP service (``api/``) holds one of these; it runs no
threads and no SQL of its own.

Why one module of this size: its parts (group commit, the applier thread, settle,
swapping in a full job's copy, compaction) share one connection, one lock and one
journal, and their ordering is the crash-safety argument.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, overload

import duckdb

from mdm.errors import ConflictError, MdmError, NotFoundError, StoreError
from mdm.store import open_store, store_cursor
from mdm.store.changes import ChangeSet
from mdm.store.compaction import compact, replace_compacted
from mdm.store.journal import (
    Journal,
    apply_journaled,
    journal_folder,
    last_applied,
    mark_applied,
)
from mdm.store.rows import insert_rows
from mdm.store.transaction import transaction

log = logging.getLogger("mdm.service")
T = TypeVar("T")

#: The journal writer commits at most this many change sets in one transaction.
MAX_GROUP = 500
#: The applier waits for this many change sets, or this many seconds, before a batch.
APPLY_BATCH = 200
APPLY_DELAY = 0.5
#: Seconds without writes after which the store is checkpointed.
IDLE_CHECKPOINT = 1.0
#: The write-ahead log's size at which DuckDB checkpoints even under load (at its
#: default of 16 MB, every few hundred writes would pause for a checkpoint).
CHECKPOINT_THRESHOLD = "1GB"
#: Seconds a thread may hold the GIL while another waits (Python's default is 0.005):
#: the writers hand it back and forth with the event loop around every statement.
SWITCH_INTERVAL = 0.0005
#: Tables no reconciliation changes (API keys, the web pages' users): written while a
#: full job works on a copy of the store, and carried over to its result.
CARRIED_TABLES = ("api_keys", "users")
#: Seconds a read waits for the applier before it is refused (503).
SETTLE_TIMEOUT = 30.0


class Decider(Protocol):
    """What the service needs of the engine that decides real-time writes (the
    real-time engine, :class:`mdm.realtime.engine.Engine`): its lock, its decisions as
    change sets, and a re-read of what other writers change."""

    lock: threading.RLock

    def upsert(self, record: dict[str, Any], actor: str) -> tuple[Any, ChangeSet]: ...

    def delete(self, source: str, record_id: str, actor: str) -> tuple[Any, ChangeSet]: ...

    def was_erased(self, source: str, record_id: str) -> bool: ...

    def sync(self, con: duckdb.DuckDBPyConnection) -> None: ...


EngineT = TypeVar("EngineT", bound=Decider)


class StoreService(Generic[EngineT]):
    """Owns the DuckDB file for the life of the process (DESIGN.md, Storage)."""

    def __init__(
        self,
        path: Path,
        engine_factory: Callable[[duckdb.DuckDBPyConnection], EngineT | None] | None = None,
        apply_delay: float = APPLY_DELAY,
        *,
        serving: bool = True,
    ) -> None:
        self.path = path
        self.apply_delay = apply_delay
        #: A long-lived service (``mdm serve``), or one command's hold on the store
        #: (:func:`command_service`): a command neither rebuilds its engine after a
        #: failure nor tunes the collector for a long life; it exits instead.
        self.serving = serving
        self._open()  # writes into the tables what a journal still held
        self._lock = threading.RLock()  # the main connection: reads, steward writes
        self._no_engine = threading.RLock()  # what _exclusive holds while there is no engine
        self._pending: list[Callable[[], None]] = []
        self._factory = engine_factory
        self.engine: EngineT | None = None
        #: Why real-time writes are refused (a failed commit, until the engine is rebuilt).
        self.broken: str | None = None
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        # The journal writer: change sets queued in decision order.
        self._queue: list[tuple[ChangeSet, Future[None]]] = []
        self._queued = threading.Condition()
        self._writing = False
        self.journal = Journal(journal_folder(path), last_applied(self._con) + 1)
        # The applier: journaled change sets not yet in the tables.
        self._state = threading.Condition()
        self._unapplied: list[tuple[int, ChangeSet]] = []
        self._since = 0.0  # when the oldest of them was journaled
        self._committed = self.journal.last  # highest sequence number journaled
        self._applied = self.journal.last  # highest sequence number in the tables
        self._urgent = False
        self._dirty = False
        #: Why journaled writes could not be written into the tables (retried meanwhile).
        self.apply_error: str | None = None
        #: While a full reconciliation works on a copy of the store: what it is (steward
        #: writes are refused meanwhile) and the records real-time writes changed since
        #: the copy (key -> row, None when deleted), to be written again on top of it.
        self.holding: str | None = None
        self._touched: dict[tuple[str, str], dict[str, Any] | None] | None = None
        #: When a caller last asked for a match or an upsert (time.monotonic()).
        self.last_call = float("-inf")
        self._closing = False
        self._threads = [
            threading.Thread(target=self._journal_loop, name="mdm-journal", daemon=True),
            threading.Thread(target=self._apply_loop, name="mdm-apply", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def start_engine(self) -> None:
        """Build the real-time engine from the store (None while it has no model)."""
        if self._factory is None:
            return
        with self._lock:
            self.engine = self._factory(self._con)
        if not self.serving:
            return
        # The engine's millions of long-lived objects out of the collector's sight: a
        # full collection would otherwise walk them all, pausing requests.
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 1000)

    # --- real-time writes ------------------------------------------------------------

    def upsert(self, record: dict[str, Any], actor: str) -> tuple[Any, Future[None]]:
        """Decide an upsert and queue its changes: (result, future committed)."""
        return self._decide(lambda engine: engine.upsert(record, actor))

    def was_erased(self, record: dict[str, Any]) -> bool:
        """Whether the record (its source and record_id) was erased: not taken again."""
        engine = self.current_engine()
        return engine.was_erased(str(record.get("source")), str(record.get("record_id")))

    def delete(self, source: str, record_id: str, actor: str) -> tuple[Any, Future[None]]:
        """Decide a delete and queue its changes: (result, future committed)."""
        return self._decide(lambda engine: engine.delete(source, record_id, actor))

    def _decide(
        self, action: Callable[[EngineT], tuple[Any, ChangeSet]]
    ) -> tuple[Any, Future[None]]:
        for _ in range(2):  # once more if the engine was replaced meanwhile
            engine = self.current_engine()
            with engine.lock:  # decided and queued in one order
                if self.engine is engine and not self.broken:
                    result, changes = action(engine)
                    return result, self._submit(changes)
            if self.broken:
                break
        raise StoreError(self._refusal())

    def called(self) -> None:
        """A caller asked for a match or an upsert just now (jobs give way meanwhile)."""
        self.last_call = time.monotonic()

    def busy(self, within: float = 1.0) -> bool:
        """Whether callers asked for matches or upserts in the last ``within`` seconds."""
        return time.monotonic() - self.last_call < within

    def current_engine(self) -> EngineT:
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
            "'mdm reconcile SOURCE... --db STORE' once"
            + (", then restart the service" if self.serving else "")
        )

    def _submit(self, changes: ChangeSet) -> Future[None]:
        done: Future[None] = Future()
        if not (changes.records or changes.golden or changes.events):
            done.set_result(None)  # nothing changed (an idempotent repeat)
            return done
        with self._queued:
            if self.broken:  # decided on memory a failed commit left ahead of the store
                done.set_exception(StoreError(self._refusal()))
                return done
            self._queue.append((changes, done))
            if self._touched is not None:
                self._touched.update(changes.records)
            self._queued.notify_all()
        return done

    def _journal_loop(self) -> None:
        while True:
            with self._queued:
                while not self._queue and not self._closing:
                    self._queued.wait()
                if not self._queue:
                    return  # closing, and everything is journaled
                batch, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                self._writing = True
            try:
                self._journal(batch)
            finally:
                with self._queued:
                    self._writing = False
                    self._queued.notify_all()

    def _journal(self, batch: list[tuple[ChangeSet, Future[None]]]) -> None:
        try:
            entries = self.journal.append([changes for changes, _ in batch])
        except Exception as error:  # noqa: BLE001 - every waiting caller hears of it
            log.error("journaling %d writes failed: %s", len(batch), type(error).__name__)
            self._recover(batch, error)
            return
        with self._state:
            if not self._unapplied:
                self._since = time.monotonic()
            self._unapplied += entries
            self._committed = entries[-1][0]
            self._state.notify_all()
        for _, done in batch:
            done.set_result(None)

    def _apply_loop(self) -> None:
        quiet_since = time.monotonic()
        while True:
            with self._state:
                while not self._ready():
                    if self._closing and not self._unapplied:
                        return
                    waited = self._state.wait(timeout=self._timeout(quiet_since))
                    if not waited and not self._unapplied and self._dirty:
                        break  # quiet for a while: checkpoint below
                batch = self._unapplied
                self._unapplied, self._urgent = [], False
            if not batch:
                self._checkpoint()
                quiet_since = time.monotonic()
                continue
            try:
                apply_journaled(self._apply_con, batch)
            except Exception as error:  # noqa: BLE001 - kept in the journal; tried again
                # the type only: a database error's text can quote the values written
                log.error("writing %d journaled writes failed: %s", len(batch),
                          type(error).__name__)  # fmt: skip
                with self._state:
                    self._unapplied = batch + self._unapplied
                    self.apply_error = type(error).__name__
                time.sleep(1.0)
                continue
            quiet_since = time.monotonic()
            try:
                self.journal.release(batch[-1][0])  # the applied files go
            except OSError as error:  # harmless: the next open of the store clears them
                log.warning("could not delete applied journal files: %s", type(error).__name__)
            with self._state:
                self._applied = batch[-1][0]
                self._dirty = True
                self.apply_error = None
                if self._unapplied:
                    self._since = time.monotonic()
                self._state.notify_all()

    @property
    def backlog(self) -> int:
        """Journaled writes not yet in the tables."""
        return self._committed - self._applied

    def _ready(self) -> bool:
        if not self._unapplied:
            return False
        return (
            self._urgent
            or self._closing
            or len(self._unapplied) >= APPLY_BATCH
            or time.monotonic() - self._since >= self.apply_delay
        )

    def _timeout(self, quiet_since: float) -> float | None:
        """How long the applier may sleep: until a batch is due, or until the store has
        been quiet long enough to checkpoint, or (nothing to do) until woken."""
        if self._unapplied:
            return max(0.0, self.apply_delay - (time.monotonic() - self._since))
        if self._dirty:
            return max(0.01, IDLE_CHECKPOINT - (time.monotonic() - quiet_since))
        return None

    def _checkpoint(self) -> None:
        """Write DuckDB's log into the file, while nothing is being written."""
        try:
            with self._lock:
                self._con.execute("CHECKPOINT").fetchall()
            self._dirty = False
        except duckdb.Error as error:  # a transaction is open; try at the next pause
            log.info("checkpoint postponed: %s", type(error).__name__)

    def settle(self) -> None:
        """Wait until every acknowledged write is in the tables."""
        with self._state:
            target = self._committed
            if self._applied >= target:
                return
            self._urgent = True
            self._state.notify_all()
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while self._applied < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(
                        "the store is behind on writing acknowledged changes "
                        f"({self.apply_error or 'still working'}); retry shortly"
                    )
                self._state.wait(timeout=left)

    def flush(self) -> None:
        """Wait until every queued write is journaled (or failed)."""
        with self._queued:
            while self._queue or self._writing:
                self._queued.wait()

    def _recover(self, batch: list[tuple[ChangeSet, Future[None]]], error: Exception) -> None:
        """A journal commit failed: the engine's memory is ahead of the store. Refuse
        writes, fail everything queued (decided on that memory), rebuild the engine."""
        with self._queued:
            self.broken = type(error).__name__
            failed, self._queue = batch + self._queue, []
        for _, done in failed:
            done.set_exception(StoreError(f"the write was not committed ({self.broken}); retry"))
        try:
            self.settle()
            self.start_engine()
        except Exception as again:  # noqa: BLE001 - stays refused; /health says why
            self.broken = f"{self.broken}, then rebuilding failed: {type(again).__name__}"
            log.error("the engine could not be rebuilt: %s", type(again).__name__)
            return
        self.broken = None

    # --- other access ----------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for queries (every acknowledged write is in the tables)."""
        self.settle()
        with self._lock:
            yield self._con

    @contextmanager
    def write(self, carried: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection inside a transaction, with the store to itself: committed on
        success, rolled back on error. What :meth:`after_commit` registered runs once it
        committed; then the engine reads again what such writes change. ``carried``:
        the write changes only :data:`CARRIED_TABLES`, which a full job carries over to
        its result, so it is allowed while one runs."""
        with self._exclusive() as engine, self._transaction(engine, carried) as con:
            yield con

    @contextmanager
    def _transaction(
        self, engine: EngineT | None, carried: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the main connection (inside :meth:`_exclusive`)."""
        if self.holding is not None and not carried:
            raise ConflictError(
                f"{self.holding} is working on a copy of the store and would overwrite "
                "this change; try again when it is done (GET /v1/jobs)"
            )
        self._pending = []
        try:
            with transaction(self._con):
                yield self._con
        except BaseException:
            self._pending = []
            raise
        pending, self._pending = self._pending, []
        for action in pending:
            action()
        if engine is not None:
            engine.sync(self._con)

    @contextmanager
    def _exclusive(self) -> Iterator[EngineT | None]:
        """The store to itself: no real-time write is decided meanwhile, every
        acknowledged one is in the tables, and the connection is held. The engine
        yielded is the one in service for the whole of it (if it was replaced while
        this waited for its lock, the new one's lock is taken instead)."""
        while True:
            engine = self.engine
            hold = engine.lock if engine is not None else self._no_engine
            with hold:
                if self.engine is not engine:
                    continue  # replaced meanwhile: a decision on the old one would be lost
                self.flush()
                self.settle()
                with self._lock:
                    yield engine
                return

    def steward(self, action: Callable[[duckdb.DuckDBPyConnection, EngineT], T]) -> T:
        """A steward's operation the engine decides (merge, unmerge, a decision, an
        erasure): the store to itself, one transaction, decided by the engine in
        service. A refusal (an MdmError) comes before the engine changes anything;
        after any other failure the engine, ahead of the rolled-back store, is built
        again from the store before any other write is decided."""
        with self._exclusive() as engine:
            if engine is None or self.broken:
                raise StoreError(self._refusal())
            try:
                with self._transaction(engine) as con:
                    return action(con, engine)
            except MdmError:
                raise
            except BaseException as error:
                if not self.serving:
                    raise  # the command exits: its engine goes with it
                log.error("a steward's operation failed (%s); rebuilding the engine",
                          type(error).__name__)  # fmt: skip
                self.start_engine()
                raise

    def compact(self) -> None:
        """Copy the database into a fresh file that replaces the store file (DuckDB's
        DELETE leaves old bytes behind), and reopen it."""
        with self._exclusive():
            compact(self._con, self.path)  # on failure the store stays as it is
            self._apply_con.close()
            self._con.close()
            try:
                replace_compacted(self.path)
            finally:
                self._reopen()

    # --- full reconciliations beside the service -------------------------------------

    def copy_for(self, target: Path, holder: str) -> None:
        """Copy the store, as every acknowledged write left it, to ``target`` for a full
        reconciliation (``holder``, e.g. "job 1a2b"). Until :meth:`replace_with` or
        :meth:`release`, real-time writes go on (and are remembered, to be written again
        on top of the result) and steward writes are refused."""
        with self._exclusive():
            if self.holding is not None:
                raise ConflictError(f"{self.holding} already works on a copy of the store")
            self._con.execute("CHECKPOINT").fetchall()
            shutil.copyfile(self.path, target)
            with self._queued:
                self._touched = {}
            self.holding = holder

    def release(self) -> None:
        """The full reconciliation is abandoned: the store stays as it is."""
        with self._queued:
            self._touched = None
        self.holding = None

    @contextmanager
    def quiet(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The store's connection with nothing writing to it, every acknowledged write
        in its tables: for copying the file (a backup, :func:`mdm.backup.back_up_service`)."""
        with self._exclusive():
            yield self._con

    def engine_for(self, result: Path) -> EngineT | None:
        """Build, from a reconciled copy of the store, the engine it will need: the
        slow part of putting a full reconciliation in place, done while the service
        goes on (the copy is another file; nothing here touches the store)."""
        if self._factory is None:
            return None
        con = open_store(result, create=False)
        try:
            return self._factory(con)
        finally:
            con.close()

    def replace_with(self, result: Path, engine: EngineT | None, actor: str) -> int:
        """Make the reconciled copy ``result`` the store and ``engine`` (built from it
        by :meth:`engine_for`) the engine. The records real-time writes changed since
        the copy was made are decided again by ``engine`` and written into the copy
        first, in one transaction; only then does the copy replace the store, in one
        rename. A crash before the rename leaves the store as it was (every write in
        it); after it, the store holds the reconciliation and those writes. Matches and
        real-time writes wait meanwhile (those few records and the swap); returns how
        many records were written again."""
        from mdm.store.changes import apply_changes

        with self._exclusive():
            with self._queued:
                touched, self._touched = self._touched or {}, None
            changes = rewrite_changes(engine, touched, actor) if engine is not None else []
            copy = open_store(result, create=False)
            try:
                with transaction(copy):
                    apply_changes(copy, changes)
                    for table in CARRIED_TABLES:  # as they are now, not as they were copied
                        rows = self._con.execute(f"SELECT * FROM {table}").fetchall()
                        copy.execute(f"DELETE FROM {table}").fetchall()
                        insert_rows(copy, table, rows)
                    # The copy holds every journaled write (or its decision again): the
                    # journal must not be replayed onto it, now or after a crash.
                    mark_applied(copy, self.journal.last)
                copy.execute("CHECKPOINT").fetchall()
            finally:
                copy.close()
            self._apply_con.close()
            self._con.close()
            try:
                Path(str(self.path) + ".wal").unlink(missing_ok=True)  # the old file's
                os.replace(result, self.path)
            finally:
                self._reopen()
            self.engine = engine
            self.holding = None
        gc.collect()
        gc.freeze()
        return len(changes)

    def _open(self) -> None:
        """Open the store: the main connection, and the applier's cursor on it."""
        self._con = open_store(self.path)
        self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'").fetchall()
        self._apply_con = store_cursor(self._con)

    def _reopen(self) -> None:
        """Open the store again after its file was replaced (inside :meth:`_exclusive`:
        every journaled write is in the new file). Opening clears the journal's files,
        so the journal begins a new one: an entry appended to a file no longer in the
        folder would be lost in a crash."""
        self._open()
        self.journal.restart()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current write transaction has committed."""
        self._pending.append(action)

    def close(self) -> None:
        """Journal and apply what is queued, stop the threads, release the file."""
        with self._queued:
            self._closing = True
            self._queued.notify_all()
        self._threads[0].join(timeout=60)
        with self._state:
            self._closing = True
            self._state.notify_all()
        self._threads[1].join(timeout=60)
        self.journal.close()
        with self._lock:
            self._apply_con.close()
            self._con.close()


@overload
def command_service(
    path: Path, engine_factory: None = None, *, create: bool = False
) -> AbstractContextManager[StoreService[Decider]]: ...


@overload
def command_service(
    path: Path,
    engine_factory: Callable[[duckdb.DuckDBPyConnection], EngineT | None],
    *,
    create: bool = False,
) -> AbstractContextManager[StoreService[EngineT]]: ...


def command_service(
    path: Path,
    engine_factory: Callable[[duckdb.DuckDBPyConnection], Any] | None = None,
    *,
    create: bool = False,
) -> AbstractContextManager[StoreService[Any]]:
    """The store held by one command (``mdm merge``, ``mdm names approve``, an
    incremental batch, ``mdm keys create``) for as long as it runs: the same owner, and
    the same write path, as the HTTP service's (:meth:`StoreService.write` for a plain
    write, :meth:`StoreService.steward` for one the engine decides), released when the
    command ends. A store that does not exist is created only when ``create`` says so."""
    if not create and not path.is_file():
        raise StoreError(f"no store at {path}; run 'mdm reconcile ... --db {path}' first")
    return _held(StoreService(path, engine_factory, serving=False))


@contextmanager
def _held(service: StoreService[EngineT]) -> Iterator[StoreService[EngineT]]:
    try:
        service.start_engine()
        yield service
    finally:
        service.close()


def record_from_row(key: tuple[str, str], row: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the engine takes it, from a records row of a change set (its raw
    values and extras)."""
    raw, extra = row.get("raw"), row.get("extra")
    record = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    extra = json.loads(extra) if isinstance(extra, str) else extra
    record.update({"source": key[0], "record_id": key[1]})
    if extra:
        record["extra"] = extra
    return record


def rewrite_changes(
    engine: Decider, touched: Mapping[tuple[str, str], Mapping[str, Any] | None], actor: str
) -> list[ChangeSet]:
    """The change sets that write ``touched`` records (None: deleted) again through
    ``engine``: what real-time writes did while a full reconciliation worked on a copy.
    A value that cannot be standardised is left out, as the engine always does."""
    changes = []
    for key, row in touched.items():
        if row is None:
            try:
                changes.append(engine.delete(*key, actor)[1])
            except NotFoundError:
                continue  # the reconciliation removed it too
        else:
            changes.append(engine.upsert(record_from_row(key, row), actor)[1])
    return changes
