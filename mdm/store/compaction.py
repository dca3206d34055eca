"""The store file rewritten without a trace of deleted rows, and the tombstones kept
beside it.

DuckDB's DELETE leaves the old bytes in the file: an erasure copies the database into
a fresh file that replaces the store (:func:`compact`, :func:`replace_compacted`).
The hashes of erased records are kept in a file beside the store too, which a restore
of an older backup does not replace (:func:`keep_tombstones`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import duckdb

from mdm.store import encryption_option
from mdm.tombstones import tombstone


def tombstone_file(db: Path) -> Path:
    """The tombstones kept beside the store, one hash a line."""
    return db.with_name(db.name + ".erasures")


def keep_tombstones(db: Path, keys: Iterable[tuple[str, str]]) -> None:
    """Append the erased records' hashes to the file beside the store (flushed to
    disk): it outlives the store file, which a restore replaces."""
    lines = "".join(f"{tombstone(s, r)}\n" for s, r in keys)
    with tombstone_file(db).open("a") as out:
        out.write(lines)
        out.flush()
        os.fsync(out.fileno())


def compact(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """Copy the database into a fresh file beside it (no trace of deleted rows)."""
    fresh = _fresh(db)
    fresh.unlink(missing_ok=True)
    name = con.execute("SELECT current_database()").fetchall()[0][0]
    # the copy is encrypted with the store's key, if it has one
    options, secret = encryption_option()
    con.execute(f"ATTACH ? AS erasure_copy{options}", [str(fresh), *secret]).fetchall()
    try:
        con.execute(f'COPY FROM DATABASE "{name}" TO erasure_copy').fetchall()
        con.execute("CHECKPOINT erasure_copy").fetchall()
    except BaseException:
        con.execute("DETACH erasure_copy").fetchall()
        fresh.unlink(missing_ok=True)  # a partial copy never replaces the store
        raise
    con.execute("DETACH erasure_copy").fetchall()


def _fresh(db: Path) -> Path:
    return db.with_name(db.name + ".compacting")


def replace_compacted(db: Path) -> None:
    """Put the compacted copy in place of the store file (and drop the old log)."""
    os.replace(_fresh(db), db)
    Path(str(db) + ".wal").unlink(missing_ok=True)
