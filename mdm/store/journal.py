"""The real-time service's write-ahead journal: change sets on disk before the answer.

A real-time write is acknowledged once its change set is in the journal and the
journal is synced to disk; it is written into the store's tables later, in batches
(:func:`apply_journaled`), which records the last sequence number it wrote in the
store's ``meta`` table in the same transaction. Whoever opens the store next writes
in what the journal holds beyond that number (:func:`replay_journal`): a service that
stopped or crashed loses nothing it acknowledged.

The journal is a folder beside the store file (``<store>.journal/``) of append-only
files. Each entry is a header (sequence number, length, CRC-32) and the change set's
bytes (:func:`mdm.store.changes.encode`); a torn entry at the end of a file (the
process died while writing it) was never acknowledged and is ignored. Files whose
entries are all in the tables are deleted, so customer values do not linger there. When
the store is encrypted, each entry's bytes are sealed with its key
(:mod:`mdm.store.sealing`): the journal and entries set aside hold no readable values.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import duckdb

from mdm.store.changes import ChangeSet, apply_changes, decode, encode
from mdm.store.sealing import seal, unseal
from mdm.store.transaction import transaction

_HEADER = struct.Struct("<QII")  # sequence number, payload length, CRC-32 of the payload
#: A journal file is closed and a new one begun past this size.
ROTATE_BYTES = 16 * 1024 * 1024
_APPLIED = "journal_applied"
_SET_ASIDE = "journal_set_aside"
log = logging.getLogger("mdm.journal")


def journal_folder(db: Path) -> Path:
    """Where the journal of the store ``db`` lives."""
    return db.with_name(db.name + ".journal")


class Journal:
    """Appends change sets to the journal of one store (one writer thread at a time)."""

    def __init__(self, folder: Path, next_seq: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq = next_seq - 1
        self._closed: list[tuple[Path, int]] = []  # full files and their last number
        self._path: Path  # the open file (set by _open)
        self._file: BinaryIO
        self._open()

    def _open(self) -> None:
        self._path = self.folder / f"{self._seq + 1:020d}.log"
        self._file = self._path.open("ab")
        _sync_folder(self.folder)

    @property
    def last(self) -> int:
        """The last sequence number written."""
        return self._seq

    def append(self, changes: Sequence[ChangeSet]) -> list[tuple[int, ChangeSet]]:
        """Write change sets and sync them to disk: (sequence number, change set)."""
        with self._lock:
            entries = [(self._seq + i, change) for i, change in enumerate(changes, start=1)]
            chunks = []
            for seq, change in entries:
                payload = seal(encode(change))
                chunks.append(_HEADER.pack(seq, len(payload), zlib.crc32(payload)))
                chunks.append(payload)
            start = self._file.tell()
            try:
                self._file.write(b"".join(chunks))
                self._file.flush()
                os.fdatasync(self._file.fileno())
            except BaseException:
                # Not acknowledged: cut it off, so that no later entry follows a torn one.
                self._file.truncate(start)
                raise
            self._seq = entries[-1][0]
            if self._file.tell() >= ROTATE_BYTES:
                self._file.close()
                self._closed.append((self._path, self._seq))
                self._open()
            return entries

    def release(self, applied: int) -> None:
        """Delete the files whose entries are all in the tables (``applied`` and before)."""
        with self._lock:
            done = [(path, last) for path, last in self._closed if last <= applied]
            self._closed = [(path, last) for path, last in self._closed if last > applied]
            if applied >= self._seq and self._file.tell() > 0:  # the open one too: start afresh
                self._file.close()
                done.append((self._path, self._seq))
                self._open()
        for path, _ in done:
            path.unlink(missing_ok=True)

    def restart(self) -> None:
        """Begin a new file, forgetting the old ones: after the store file was replaced
        by one that holds every entry so far (its folder's files were cleared)."""
        with self._lock:
            self._file.close()
            self._closed = []
            self._open()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _sync_folder(folder: Path) -> None:
    """Make a new file's name durable (POSIX: sync the directory)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_journal(folder: Path) -> Iterator[tuple[int, bytes]]:
    """Every whole entry of the journal, in order (a torn tail is left out)."""
    for path in sorted(folder.glob("*.log")):
        data = path.read_bytes()
        at = 0
        while at + _HEADER.size <= len(data):
            seq, length, crc = _HEADER.unpack_from(data, at)
            payload = data[at + _HEADER.size : at + _HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break  # the process died while writing this entry: never acknowledged
            yield seq, payload
            at += _HEADER.size + length


def mark_applied(con: duckdb.DuckDBPyConnection, seq: int) -> None:
    """Record that the tables hold every journal entry up to ``seq``."""
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_APPLIED, str(seq)]).fetchall()


def last_applied(con: duckdb.DuckDBPyConnection) -> int:
    """The last journal sequence number written into the tables."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [_APPLIED]).fetchall()
    return int(row[0][0]) if row else 0


def apply_journaled(
    con: duckdb.DuckDBPyConnection, entries: Sequence[tuple[int, ChangeSet]]
) -> None:
    """Write journaled change sets into the tables, and record that they are there, in
    one transaction (``con`` must not be in one)."""
    with transaction(con):
        apply_changes(con, [change for _, change in entries])
        mark_applied(con, entries[-1][0])


def replay_journal(con: duckdb.DuckDBPyConnection, db: Path) -> int:
    """Write into the tables what the journal of ``db`` holds beyond what they have (a
    service stopped before it did), then clear the journal: how many change sets.

    Should the whole journal not go in (a bug left an entry that contradicts the
    tables), the entries are written one by one and those that fail are set aside in
    :func:`set_aside_folder` and listed in the store's ``meta`` (``mdm check`` reports
    them), so that one bad entry does not keep the store from opening."""
    folder = journal_folder(db)
    if not folder.is_dir():
        return 0
    applied = last_applied(con)
    raw = [(seq, data) for seq, data in read_journal(folder) if seq > applied]
    if raw:
        try:
            apply_journaled(con, [(seq, decode(unseal(data))) for seq, data in raw])
        except Exception:  # noqa: BLE001 - one at a time, to find what does not go in
            _replay_one_by_one(con, db, raw)
    for path in folder.glob("*.log"):
        path.unlink()
    return len(raw)


def set_aside_folder(db: Path) -> Path:
    """Where journal entries that could not be written into the tables are kept."""
    return db.with_name(db.name + ".journal-set-aside")


def set_aside_entries(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The journal entries set aside so far: sequence number, file, error type, when."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [_SET_ASIDE]).fetchall()
    return json.loads(row[0][0]) if row else []


def _replay_one_by_one(
    con: duckdb.DuckDBPyConnection, db: Path, raw: Sequence[tuple[int, bytes]]
) -> None:
    kept = set_aside_entries(con)
    for seq, data in raw:
        try:
            apply_journaled(con, [(seq, decode(unseal(data)))])
            continue
        except Exception as error:  # noqa: BLE001 - kept on disk, reported, not lost
            failure = type(error).__name__  # the type only: its text may quote values
        target = set_aside_folder(db)
        target.mkdir(parents=True, exist_ok=True)
        when = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = target / f"{when}-{seq:020d}.log"
        path.write_bytes(_HEADER.pack(seq, len(data), zlib.crc32(data)) + data)
        with path.open("rb") as written:
            os.fsync(written.fileno())
        _sync_folder(target)
        kept.append({"seq": seq, "file": path.name, "error": failure, "at": when})
        log.error("journal entry %d could not be written into the tables (%s); set aside "
                  "in %s", seq, failure, path)  # fmt: skip
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [_SET_ASIDE, json.dumps(kept)]
        ).fetchall()
