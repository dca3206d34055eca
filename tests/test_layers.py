"""Layering and documentation checks."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mdm.cli import app

REPO = Path(__file__).resolve().parents[1]


def test_mdm_does_not_import_fastapi_or_the_api() -> None:
    """Importing every module of mdm loads no web framework, and of the service only
    the command it adds to the command line (``mdm serve``, an installed entry point,
    which imports the service when it runs)."""
    modules = [
        f"mdm.{p.stem}" if p.parent.name == "mdm" else f"mdm.{p.parent.name}.{p.stem}"
        for p in (REPO / "mdm").rglob("*.py")
        if p.stem not in ("__init__", "__main__") and "generate" not in p.parts
    ]
    code = (
        f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'uvicorn', 'jinja2', 'api')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() in ("[]", "['api', 'api.serve']")


#: Every command the CLI registers, so a new one cannot go without help and docs.
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_docs(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) > 3
    assert f"mdm {command}" in (REPO / "README.md").read_text()


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's import-linter contracts: the layers (standardise, rules and
    names below linkage, below the store, below bulk and real time, below the CLI and
    the service), mdm free of the web framework, and no import circle in any package."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]


def test_only_the_store_opens_a_transaction() -> None:
    """Every write in a transaction goes through ``mdm.store.transaction`` (committed
    at the end, rolled back on error): no module writes BEGIN, COMMIT or ROLLBACK."""
    import re

    words = re.compile(r"""["'](BEGIN|COMMIT|ROLLBACK)\b""")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("mdm", "api")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "mdm" / "store" / "transaction.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if words.search(line)
    ]
    assert found == []


def test_the_api_starts_no_thread() -> None:
    """``api/`` is HTTP only: no module of it starts a thread (``threading.Thread(``,
    or ``Thread(`` imported bare). The threads the service runs live in ``mdm/``: the
    store service's journal and applier (``mdm/store/service.py``), the job queue's
    worker (``mdm/jobs.py``) and the key-use writer (``mdm/store/keys.py``)."""
    starts = re.compile(r"\bThread\(")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "api").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if starts.search(line)
    ]
    assert found == []


#: SQL that writes the golden or lineage table: a statement naming it, or a row helper
#: given it (``golden_overrides``, ``golden_work`` and the like are other tables).
GOLDEN_WRITES = re.compile(
    r"(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(store\.)?(golden|lineage)\b"
    r"|\w*insert\w*\(\s*\w+,\s*f?[\"'](golden|lineage)\b",
    re.IGNORECASE,
)

#: Modules beside mdm/store/golden.py that may write those tables, and why (none).
GOLDEN_WRITERS: set[str] = set()


def test_golden_records_are_written_in_one_module() -> None:
    """A newcomer asking "where is a golden record written?" finds one answer:
    ``mdm/store/golden.py``. No other module of ``mdm`` or ``api`` holds SQL writing the
    golden or lineage table (migrations alter or create them: not writing rows)."""
    found = [
        f"{path.relative_to(REPO)}: {match.group(0)!r}"
        for folder in ("mdm", "api")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "mdm" / "store" / "golden.py"
        and path.relative_to(REPO).as_posix() not in GOLDEN_WRITERS
        for match in GOLDEN_WRITES.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "text",
    [
        "DELETE FROM golden WHERE status = 'active'",
        "UPDATE golden g SET status = 'retired'",
        "INSERT INTO lineage SELECT",
        'insert_columns(\n        con,\n        "golden",',
    ],
)
def test_the_golden_write_pattern_finds_writes(text: str) -> None:
    assert GOLDEN_WRITES.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "DELETE FROM golden_overrides WHERE golden_id = ?",
        "INSERT INTO golden_overrides SELECT",
        "SELECT golden_id FROM golden WHERE status = 'active'",
        "ALTER TABLE golden ADD COLUMN IF NOT EXISTS national_id VARCHAR",
        "CREATE OR REPLACE TEMP TABLE golden_before AS SELECT",
    ],
)
def test_the_golden_write_pattern_passes_other_tables(text: str) -> None:
    assert not GOLDEN_WRITES.search(text)


#: SQL that writes the records or xref table: a statement naming it, or a row helper
#: given it (``records_staging``-like names, ``memory.incoming`` and reads are not).
RECORDS_WRITES = re.compile(
    r"(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(store\.)?(records|xref)\b"
    r"|\w*(insert|delete)\w*\(\s*\w+,\s*f?[\"'](records|xref)\b",
    re.IGNORECASE,
)

#: Modules beside mdm/store/records.py that may write those tables, and why (none).
RECORDS_WRITERS: set[str] = set()


def test_records_and_xref_are_written_in_one_module() -> None:
    """A newcomer asking "where is a record or its golden id written?" finds one answer:
    ``mdm/store/records.py``. No other module of ``mdm`` or ``api`` holds SQL writing the
    records or xref table (migrations alter or create them: not writing rows)."""
    found = [
        f"{path.relative_to(REPO)}: {match.group(0)!r}"
        for folder in ("mdm", "api")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "mdm" / "store" / "records.py"
        and path.relative_to(REPO).as_posix() not in RECORDS_WRITERS
        for match in RECORDS_WRITES.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "text",
    [
        "DELETE FROM records",
        "INSERT INTO xref SELECT w.source",
        "UPDATE records SET {column}_variants = k.keys",
        'delete_keyed(con, "records", keys)',
        'insert_columns(\n        con,\n        "xref",',
    ],
)
def test_the_records_write_pattern_finds_writes(text: str) -> None:
    assert RECORDS_WRITES.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "INSERT INTO memory.incoming BY NAME SELECT * FROM store.records",
        "SELECT source, record_id, golden_id FROM xref",
        "CREATE OR REPLACE TEMP TABLE xref_before AS SELECT",
        "ALTER TABLE records ADD COLUMN IF NOT EXISTS national_id VARCHAR",
        "DELETE FROM records_seen WHERE source = ?",
    ],
)
def test_the_records_write_pattern_passes_other_tables(text: str) -> None:
    assert not RECORDS_WRITES.search(text)


#: SQL that writes the review_tasks or pairs table: a statement naming it, or a row
#: helper given it.
REVIEW_WRITES = re.compile(
    r"(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(store\.)?(review_tasks|pairs)\b"
    r"|\w*(insert|delete)\w*\(\s*\w+,\s*f?[\"'](review_tasks|pairs)\b",
    re.IGNORECASE,
)

#: Modules beside mdm/store/review.py that may write those tables, and why (none).
REVIEW_WRITERS: set[str] = set()


def test_review_tasks_are_written_in_one_module() -> None:
    """A newcomer asking "where is a review task written?" finds one answer:
    ``mdm/store/review.py``, with the evidence pairs a task shows. No other module of
    ``mdm`` or ``api`` holds SQL writing the review_tasks or pairs table (migrations
    alter or create them: not writing rows)."""
    found = [
        f"{path.relative_to(REPO)}: {match.group(0)!r}"
        for folder in ("mdm", "api")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "mdm" / "store" / "review.py"
        and path.relative_to(REPO).as_posix() not in REVIEW_WRITERS
        for match in REVIEW_WRITES.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "text",
    [
        "DELETE FROM review_tasks WHERE status = 'open'",
        "UPDATE review_tasks t SET match_weight = v.w",
        'f"DELETE FROM review_tasks WHERE (source_{side}, record_id_{side}) IN "',
        "INSERT INTO pairs SELECT source_l",
        'delete_keyed(con, "pairs", replaced, "_l")',
        'insert_columns(con, "review_tasks", TASK_COLUMNS, rows)',
    ],
)
def test_the_review_write_pattern_finds_writes(text: str) -> None:
    assert REVIEW_WRITES.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM review_tasks WHERE status = 'open'",
        "ALTER TABLE review_tasks ADD COLUMN IF NOT EXISTS scored_on VARCHAR",
        "INSERT INTO decisions VALUES (?, ?, ?)",
        "DELETE FROM pairs_seen WHERE uid = ?",
        "LEFT JOIN pairs p USING (source_l, record_id_l, source_r, record_id_r)",
    ],
)
def test_the_review_write_pattern_passes_other_tables(text: str) -> None:
    assert not REVIEW_WRITES.search(text)


def _writes(tables: str) -> re.Pattern[str]:
    """SQL that writes one of ``tables`` (a regex alternation): a statement naming it,
    or a row helper given it."""
    return re.compile(
        rf"(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(store\.)?({tables})\b"
        rf"|\w*(insert|delete)\w*\(\s*\w+,\s*f?[\"']({tables})\b",
        re.IGNORECASE,
    )


def _found(pattern: re.Pattern[str], allowed: Callable[[Path], bool]) -> list[str]:
    return [
        f"{path.relative_to(REPO)}: {match.group(0)!r}"
        for folder in ("mdm", "api")
        for path in sorted((REPO / folder).rglob("*.py"))
        if not allowed(path)
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]


#: The other table families, each written (and read) by one module of mdm/store/.
FAMILIES = {
    "mdm/store/names.py": r"name_variants|name_variant_\w+|name_frequencies",
    "mdm/store/keys.py": r"api_keys",
    "mdm/store/users.py": r"users",
}


@pytest.mark.parametrize("module", sorted(FAMILIES))
def test_each_table_family_is_written_in_its_module(module: str) -> None:
    """Name variants and frequencies, API keys, the pages' users: each family's SQL is
    in one module of ``mdm/store/`` (migrations create or alter the tables)."""
    found = _found(_writes(FAMILIES[module]), lambda path: path == REPO / module)
    assert found == []


def test_events_are_written_only_by_the_store() -> None:
    """The event log is appended beside the rows an event describes, in the same
    transaction: by the store's family modules (golden, records, changes), and by
    ``mdm/store/events.py`` for events of their own (a steward's decision, a re-scored
    task). Nothing outside ``mdm/store/`` writes it."""
    found = _found(_writes("events"), lambda path: path.is_relative_to(REPO / "mdm" / "store"))
    assert found == []


@pytest.mark.parametrize(
    ("tables", "text"),
    [
        ("events", "INSERT INTO events VALUES (?, ?, 'task_rescored', NULL, ?, ?, 'system', ?)"),
        ("users", "DELETE FROM users WHERE username = ? RETURNING 1"),
        ("api_keys", "UPDATE api_keys SET revoked_at = ?"),
        (FAMILIES["mdm/store/names.py"], "INSERT INTO name_frequencies SELECT kind"),
        (FAMILIES["mdm/store/names.py"], "UPDATE name_variants v SET evidence = 1"),
    ],
)
def test_the_family_write_pattern_finds_writes(tables: str, text: str) -> None:
    assert _writes(tables).search(text)


@pytest.mark.parametrize(
    ("tables", "text"),
    [
        ("events", "INSERT INTO events_seen VALUES (1)"),
        ("users", "SELECT username FROM users"),
        ("users", "DELETE FROM users_archive"),
        (FAMILIES["mdm/store/names.py"], "CREATE TABLE IF NOT EXISTS name_variants ("),
    ],
)
def test_the_family_write_pattern_passes_other_tables(tables: str, text: str) -> None:
    assert not _writes(tables).search(text)


#: A module longer than this says why it is one module, at its top.
LONG_MODULE = 500


def test_a_long_module_says_why_it_is_one() -> None:
    found = []
    for folder in ("mdm", "api"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            head = "\n".join(text.splitlines()[:40])
            if text.count("\n") > LONG_MODULE and "Why one module" not in head:
                found.append(f"{path.relative_to(REPO)}: {text.count(chr(10))} lines")
    assert found == []
