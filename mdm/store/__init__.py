"""The DuckDB store: one file holding records, golden records, cross-references and runs."""

from __future__ import annotations

import errno
import os
import re
from importlib import resources
from pathlib import Path

import duckdb

from mdm.errors import StoreError
from mdm.sql import one
from mdm.store.sealing import ENCRYPTION_KEY_VARIABLE
from mdm.store.transaction import transaction

SCHEMA_VERSION = "10"


def schema_sql() -> str:
    """The DDL of the store."""
    return resources.files("mdm.store").joinpath("schema.sql").read_text(encoding="utf-8")


#: The umask mdm runs with: what it creates (the store, its journal, job folders,
#: backups, exports) holds personal data, so files are 0600 and folders 0700.
PRIVATE_UMASK = 0o077


def private_files() -> None:
    """Make every file and folder this process creates from now on its owner's alone."""
    os.umask(PRIVATE_UMASK)


def encryption_option(read_only: bool = False) -> tuple[str, list[str]]:
    """The ATTACH options that open the store, and their parameters: its encryption key,
    if one is set, goes in as a parameter (never into the SQL text, where a log or an
    error message could show it)."""
    key = os.environ.get(ENCRYPTION_KEY_VARIABLE)
    options = ["ENCRYPTION_KEY ?"] if key else []
    if read_only:
        options.append("READ_ONLY")
    return (f" ({', '.join(options)})" if options else ""), ([key] if key else [])


def prepare_encryption(con: duckdb.DuckDBPyConnection) -> None:
    """Load what DuckDB needs to write encrypted files: its httpfs extension (OpenSSL).
    It is not downloaded at run time; without it, opening an encrypted store fails with
    a message saying how to install it. ``MDM_ENCRYPTION_UNSAFE_FOR_TESTS=1`` lets DuckDB
    use its built-in mbedtls instead, which DuckDB says is not secure: tests only."""
    if not os.environ.get(ENCRYPTION_KEY_VARIABLE):
        return
    if os.environ.get("MDM_ENCRYPTION_UNSAFE_FOR_TESTS") == "1":
        con.execute("SET force_mbedtls_unsafe = 'true'").fetchall()
        return
    try:
        con.execute("LOAD httpfs").fetchall()
    except duckdb.Error as exc:
        raise StoreError(
            "an encrypted store needs DuckDB's httpfs extension (OpenSSL), which is not "
            'installed: on a machine with internet run python -c "import duckdb; '
            "duckdb.execute('INSTALL httpfs')\" once, or copy httpfs.duckdb_extension into "
            f"~/.duckdb/extensions/v{duckdb.__version__}/<platform>/ ({exc})"
        ) from None


def _encryption_hint() -> str:
    if os.environ.get(ENCRYPTION_KEY_VARIABLE):
        return f" (is {ENCRYPTION_KEY_VARIABLE} the key this store was made with?)"
    return f" (an encrypted store needs its key in {ENCRYPTION_KEY_VARIABLE})"


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
_READ_ONLY = ("Read-only file system", "Permission denied")


def process_description(pid: int) -> str:
    """Who process ``pid`` is, in words: the mdm service, an mdm command, or its
    command line (as far as this machine's /proc tells)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(w.decode(errors="replace") for w in words if w)
    except OSError:
        return f"process {pid}"
    if "mdm" in command and " serve" in command:
        return f"the mdm service (`mdm serve`, process {pid})"
    if "mdm" in command:
        return f"another mdm command (process {pid}: {command})"
    return f"process {pid} ({command})"


def lock_holder(error: BaseException) -> str | None:
    """Who holds the store, in words, when ``error`` is DuckDB refusing to open it
    because another process has it open; else None."""
    holder = _LOCK_HOLDER.search(str(error))
    return process_description(int(holder["pid"])) if holder else None


def open_failure(path: Path, error: BaseException) -> StoreError:
    """What to tell a user whose store would not open, from what DuckDB or the system
    said: another process owns it, its storage is read-only, or (else) a wrong key."""
    text = str(error)
    if who := lock_holder(error):
        return StoreError(
            f"store {path} is in use by {who}: one process owns a store at a time. "
            "Stop it first, or send this work to the service over HTTP while it runs "
            "(bulk runs: POST /v1/jobs)"
        )
    if any(reason in text for reason in _READ_ONLY) or (
        isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    ):
        reason = next((r for r in _READ_ONLY if r in text), "not writable")
        return StoreError(
            f"cannot write store {path}: {reason.lower()}. A store is written even to be "
            "read (its journal and schema); copy it to writable storage and give that "
            "path with --db"
        )
    return StoreError(f"cannot open store {path}: {error}{_encryption_hint()}")


def connect_store(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the store file (encrypted with
    ``MDM_ENCRYPTION_KEY`` when it is set: new stores are made encrypted, existing ones
    need the same key)."""
    if not os.environ.get(ENCRYPTION_KEY_VARIABLE):
        return duckdb.connect(str(path), read_only=read_only)
    con = duckdb.connect()
    try:
        prepare_encryption(con)
        options, secret = encryption_option(read_only)
        con.execute(f"ATTACH ? AS store{options}", [str(path), *secret]).fetchall()
        con.execute("USE store").fetchall()
    except BaseException:
        con.close()
        raise
    return con


def store_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of ``con`` that reads and writes the same database as ``con``.

    A DuckDB cursor starts in the default catalog: for an encrypted store, which is
    attached and ``USE``d, that is the empty in-memory one, not the store."""
    cursor = con.cursor()
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    if cursor.execute("SELECT current_database()").fetchall()[0][0] != database:
        cursor.execute(f'USE "{database}"').fetchall()
    return cursor


def open_store(path: Path, *, create: bool = True) -> duckdb.DuckDBPyConnection:
    """Open (and if asked, create) the store file; checks its schema version."""
    if not create and not path.is_file():
        raise StoreError(f"no store at {path}; run 'mdm reconcile ... --db {path}' first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = connect_store(path)
    except (duckdb.Error, OSError) as exc:
        raise open_failure(path, exc) from exc
    try:
        _migrate(con, path)
        _replay(con, path)
        return con
    except BaseException:
        con.close()
        raise


def attach_store(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Attach (creating if needed) the store file to ``con`` as catalog ``store``.

    A run works in the connection's in-memory catalog and writes its results to the
    store from there, table to table, in one transaction.
    """
    prepare_encryption(con)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        options, secret = encryption_option()
        con.execute(f"ATTACH ? AS store{options}", [str(path), *secret]).fetchall()
    except (duckdb.Error, OSError) as exc:
        raise open_failure(path, exc) from exc
    con.execute("USE store").fetchall()
    try:
        _migrate(con, path)
        _replay(con, path)
    finally:
        con.execute("USE memory").fetchall()


#: Versions this mdm upgrades in place: the DDL adds tables (IF NOT EXISTS) and
#: :func:`_migrate` the columns added since.
UPGRADABLE = ("1", "2", "3", "4", "5", "6", "7", "8", "9")


def _replay(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Write into the tables the real-time writes a service committed to its journal but
    had not written yet (it stopped, or crashed): nothing acknowledged is lost, and no
    command works on a store that lacks them."""
    from mdm.store.journal import replay_journal

    replay_journal(con, path)


def _baseline_events(con: duckdb.DuckDBPyConnection) -> None:
    """Stores from before schema 5 did not log every record's golden id: one event per
    record and per golden id, as they stand at the upgrade, lets the event log alone
    rebuild the state from here on (``mdm replay``)."""
    con.execute(
        "INSERT INTO events SELECT (SELECT coalesce(max(event_id), 0) FROM events) + "
        "row_number() OVER (ORDER BY kind, golden_id, source, record_id), now()::TIMESTAMP, "
        "kind, golden_id, source, record_id, 'system', detail FROM ("
        "SELECT 'golden_created' AS kind, golden_id, NULL AS source, NULL AS record_id, "
        "'{\"baseline\": true}' AS detail FROM golden "
        "UNION ALL SELECT 'golden_retired', golden_id, NULL, NULL, "
        "json_object('survivor_id', survivor_id, 'baseline', true)::VARCHAR FROM golden "
        "WHERE status <> 'active' "
        "UNION ALL SELECT 'record_linked', golden_id, source, record_id, "
        "'{\"baseline\": true}' FROM xref)"
    ).fetchall()


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyConnection:
    from mdm.store.names import seed_variants

    has_meta = one(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta' "
            "AND table_catalog = current_database()"
        )
    )
    found = None
    if has_meta and has_meta[0]:
        row = one(con.execute("SELECT value FROM meta WHERE key = 'schema_version'"))
        found = row[0] if row else "none"
        if found == SCHEMA_VERSION:
            return con
        if found not in UPGRADABLE:
            raise StoreError(
                f"{path} has store schema version {found}; this mdm reads {SCHEMA_VERSION} "
                f"and upgrades {', '.join(UPGRADABLE)}"
            )
    with transaction(con):
        con.execute(schema_sql()).fetchall()
        # Columns added to tables older stores already have (the DDL only adds tables).
        con.execute(
            "ALTER TABLE review_tasks ADD COLUMN IF NOT EXISTS scored_on VARCHAR DEFAULT 'records'"
        ).fetchall()
        for table, column in (("api_keys", "expires_at"), ("api_keys", "last_used_at")):
            con.execute(
                f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} TIMESTAMP"
            ).fetchall()
        for table in ("records", "golden"):  # schema 9
            con.execute(
                f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS national_id VARCHAR"
            ).fetchall()
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
        ).fetchall()
        seed_variants(con)
        if found in ("1", "2", "3", "4"):
            _baseline_events(con)
    return con
