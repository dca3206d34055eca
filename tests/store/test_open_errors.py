"""A store that will not open says why and what to do: another process owns it,
its storage is read-only, or (only then) a wrong or missing encryption key."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from mdm.errors import StoreError
from mdm.store import open_failure, open_store

STORE = Path("/data/store.duckdb")


@pytest.mark.parametrize(
    ("error", "says", "never"),
    [
        (duckdb.IOException('IO Error: Cannot open file "/data/store.duckdb": Read-only '
                            "file system"), "read-only file system", "ENCRYPTION"),
        (duckdb.IOException('IO Error: Cannot open file "/data/store.duckdb": Permission '
                            "denied"), "permission denied", "ENCRYPTION"),
        (OSError(errno.EROFS, "Read-only file system", "/data"), "read-only", "ENCRYPTION"),
        (duckdb.IOException('IO Error: Could not set lock on file "/data/store.duckdb": '
                            "Conflicting lock is held in /usr/bin/python3 (PID 999999999)"),
         "in use by process 999999999", "ENCRYPTION"),
        (duckdb.InvalidInputException("Wrong encryption key used to open the database"),
         "MDM_ENCRYPTION_KEY", "in use"),
    ],
    ids=["read-only-duckdb", "permission", "read-only-mkdir", "locked", "other"],
)  # fmt: skip
def test_each_failure_says_its_own_cause(error: BaseException, says: str, never: str) -> None:
    message = str(open_failure(STORE, error))
    assert says in message
    assert never not in message
    assert str(STORE) in message


def test_a_store_held_by_another_process_names_it(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    open_store(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError) as caught:
            open_store(db)
        message = str(caught.value)
        assert f"process {holder.pid}" in message and "one process owns a store" in message
        assert "ENCRYPTION_KEY" not in message
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes its pipe


@pytest.fixture
def read_only_folder(tmp_path: Path):
    """A real read-only file system (a tmpfs mounted read-only), where this machine
    lets the tests mount one."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0 or os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root; the unit cases above cover it")
    try:
        open_store(folder / "store.duckdb").close()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_store_on_read_only_storage_says_so(read_only_folder: Path) -> None:
    for db in (read_only_folder / "store.duckdb", read_only_folder / "new" / "store.duckdb"):
        with pytest.raises(StoreError, match="read-only file system.*writable storage"):
            open_store(db)
