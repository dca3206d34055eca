"""Backups of the store, and restoring one.

A backup is a copy of the store file taken when it is consistent: checkpointed, with
every acknowledged write in its tables and nothing being written (a running service
takes it between writes: ``POST /v1/backups``; a stopped one: ``mdm backup``). An
encrypted store's backup is encrypted with the same key. Restoring checks the backup
(it opens, its schema is one this mdm reads, it holds together) and puts it in place of
the store in one rename; the store's journal, which belongs to the state being
replaced, is moved aside, not replayed onto the backup.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from mdm.errors import InputError, StoreError
from mdm.store import connect_store, lock_holder, open_failure, open_store
from mdm.store.transaction import transaction

if TYPE_CHECKING:
    from mdm.rules.bundle import RulesBundle
    from mdm.store.service import StoreService


@dataclass(frozen=True)
class Backup:
    """A backup written: where, how big, its SHA-256, and the store's fingerprint."""

    path: Path
    bytes: int
    sha256: str
    fingerprint: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """One hash over every row of every table of the store: equal fingerprints, equal
    contents (whatever the file's layout)."""
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    digest = hashlib.sha256()
    for table in tables:
        row = con.execute(
            f'SELECT count(*), coalesce(sum(hash(t::VARCHAR)), 0) FROM "{table}" t'
        ).fetchall()[0]
        digest.update(f"{table}:{row[0]}:{row[1]};".encode())
    return digest.hexdigest()


def back_up_service(service: StoreService[Any], out: Path) -> Backup:
    """Back up the store while the service runs: between writes, with every
    acknowledged one in the tables."""
    with service.quiet() as con:
        return write_backup(con, service.path, out)


def write_backup(con: duckdb.DuckDBPyConnection, db: Path, out: Path) -> Backup:
    """Copy the store (open on ``con``, nothing writing to it) to ``out``."""
    if out.exists():
        raise InputError(f"{out} exists already; name a new file for the backup")
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute("CHECKPOINT").fetchall()
    taken = fingerprint(con)
    partial = out.with_name(out.name + ".partial")
    shutil.copyfile(db, partial)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(out)
    return Backup(out, out.stat().st_size, _sha256(out), taken)


def backup(db: Path, out: Path) -> Backup:
    """Back up a store no service is running on (``mdm backup``)."""
    con = open_store(db, create=False)
    try:
        return write_backup(con, db, out)
    finally:
        con.close()


def _refuse_if_in_use(db: Path) -> None:
    """Raise :class:`StoreError` naming the process (the service, another command) that
    holds ``db`` open: replacing a store under its owner loses what the owner writes
    next. A store that does not open for another reason (damaged: why it is being
    restored) is no obstacle."""
    try:
        con = connect_store(db)
    except (duckdb.Error, OSError) as exc:
        if lock_holder(exc) is not None:
            raise open_failure(db, exc) from None
        return
    con.close()


@dataclass(frozen=True)
class Restored:
    """A restore done: the store's fingerprint, and how many records it erased again
    (erased after the backup was taken: their tombstones outlive it)."""

    fingerprint: str
    erased_again: int = 0


def restore(
    backup_file: Path, db: Path, *, force: bool = False, rules: RulesBundle | None = None
) -> Restored:
    """Put ``backup_file`` in place of the store ``db`` (no service may be running on
    it). Refuses a backup that does not open or does not hold together, and an existing
    store unless ``force``. Records erased since the backup was taken (their tombstones
    are in the store being replaced and in the file beside it) are erased again, with
    ``rules``' survivorship (default: the bundled rules), before the backup goes in."""
    from mdm.checks import store_problems
    from mdm.erasure import read_tombstones

    if not backup_file.is_file():
        raise InputError(f"no backup at {backup_file}")
    if db.exists() and not force:
        raise InputError(f"{db} exists; add --force to replace it with the backup")
    if db.exists():
        _refuse_if_in_use(db)
    tombstones = read_tombstones(db)
    staged = db.with_name(db.name + ".restoring")
    shutil.copyfile(backup_file, staged)
    try:
        try:
            con = connect_store(staged)
        except duckdb.Error as exc:
            raise StoreError(f"{backup_file} is not a store this mdm can open: {exc}") from exc
        con.close()
        con = open_store(staged, create=False)  # checks (and upgrades) the schema
        try:
            problems = store_problems(con)
            con.execute("CHECKPOINT").fetchall()
        finally:
            con.close()
        if problems:
            raise StoreError(f"{backup_file} does not hold together: {'; '.join(problems)}")
        erased_again = _erase_again(staged, tombstones, rules) if tombstones else 0
        con = open_store(staged, create=False)
        try:
            restored = fingerprint(con)
        finally:
            con.close()
        from mdm.store.journal import journal_folder

        journal = journal_folder(db)
        if journal.exists():  # it belongs to the state being replaced
            journal.rename(journal.with_name(f"{journal.name}.before-restore-{int(time.time())}"))
        Path(str(db) + ".wal").unlink(missing_ok=True)
        os.replace(staged, db)
    finally:
        staged.unlink(missing_ok=True)
        Path(str(staged) + ".wal").unlink(missing_ok=True)
    return Restored(restored, erased_again)


def _erase_again(staged: Path, tombstones: set[str], rules: RulesBundle | None) -> int:
    """Erase from the staged backup the records with a tombstone, and compact it (the
    erased values leave its bytes); how many records."""
    from mdm.bundled import DEFAULT_MATCH_RULES
    from mdm.erasure import erase_again
    from mdm.realtime.engine import Engine
    from mdm.rules.bundle import RulesBundle
    from mdm.store.compaction import compact, replace_compacted

    bundle = rules or RulesBundle.load(DEFAULT_MATCH_RULES)
    con = open_store(staged, create=False)
    try:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        with transaction(con):
            erased = erase_again(con, engine, tombstones)
        if erased:
            compact(con, staged)
    finally:
        con.close()
    if erased:
        replace_compacted(staged)
    return erased
