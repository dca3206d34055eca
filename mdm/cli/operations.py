"""Running a store: replay, backup, restore, check, erase, history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from mdm.cli._common import (
    DEFAULT_RULES,
    ActorOption,
    DbOption,
    RulesOption,
    _plain,
    _read,
    app,
    out,
    print_table,
)

if TYPE_CHECKING:
    import duckdb

    from mdm.store.events import Replayed


@app.command("replay")
def replay_command(db: DbOption) -> None:
    """Rebuild each record's golden id and each golden id's status from the event log
    alone, and compare with the tables (exit 1 if they differ)."""
    from mdm.store.events import replay, replay_differences

    def check(con: duckdb.DuckDBPyConnection) -> tuple[Replayed, list[str]]:
        return replay(con), replay_differences(con)

    replayed, differences = _read(db, check)
    for line in differences:
        out.print(line, highlight=False)
    if differences:
        raise typer.Exit(1)
    out.print(
        f"the event log replays to the tables: {len(replayed.xref)} record(s), "
        f"{len(replayed.golden)} golden id(s)",
        highlight=False,
    )


@app.command("backup")
def backup_command(
    db: DbOption,
    target: Annotated[Path, typer.Option("--out", help="The backup file to write (new).")],
) -> None:
    """Back up a store no service is running on (a running service: POST /v1/backups)."""
    from mdm.backup import backup

    made = backup(db, target)
    out.print(f"backup {made.path}: {made.bytes} bytes, sha256 {made.sha256}", highlight=False)


@app.command("restore")
def restore_command(
    backup_file: Annotated[Path, typer.Argument(help="A backup file.")],
    db: DbOption,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing store.")] = False,
    rules: RulesOption = DEFAULT_RULES,
) -> None:
    """Put a backup in place of the store (stop the service first). The backup is
    checked first; the store's journal is moved aside, not replayed onto it; people
    erased since the backup was taken are erased from it again."""
    from mdm.backup import restore
    from mdm.rules.bundle import RulesBundle

    restored = restore(backup_file, db, force=force, rules=RulesBundle.load(rules))
    out.print(
        f"restored {backup_file} to {db} (fingerprint {restored.fingerprint[:16]})",
        highlight=False,
    )
    if restored.erased_again:
        out.print(
            f"erased {restored.erased_again} record(s) again: they were erased after this "
            "backup was taken",
            highlight=False,
        )


@app.command("check")
def check_command(
    db: DbOption,
    full: Annotated[
        bool, typer.Option("--full", help="Also derive every golden record again (slow).")
    ] = False,
    rules: RulesOption = DEFAULT_RULES,
) -> None:
    """Check that the store holds together: every record in one active golden record,
    counts, survivor chains, must- and cannot-links, the event log (exit 1 if not)."""
    from mdm.checks import store_problems
    from mdm.rules.bundle import RulesBundle

    survivorship = RulesBundle.load(rules).survivorship
    problems = _read(db, lambda con: store_problems(con, survivorship, full=full))
    for line in problems:
        out.print(line, highlight=False)
    if problems:
        raise typer.Exit(1)
    out.print("the store holds together", highlight=False)


@app.command("erase")
def erase_command(
    golden_id: Annotated[str, typer.Argument(help="The person's golden id.")],
    db: DbOption,
    source: Annotated[
        list[str] | None,
        typer.Option(help="Erase only this source's records (repeat for more); default all."),
    ] = None,
    by: ActorOption = "steward",
    rules: RulesOption = DEFAULT_RULES,
) -> None:
    """Erase a person: their source records go from every table and from the store
    file's bytes (the store is compacted). Stop the service first."""
    from mdm.erasure import erase
    from mdm.rules.bundle import RulesBundle

    done = erase(db, golden_id, RulesBundle.load(rules), by, source or None)
    out.print(done.message(), highlight=False)


@app.command("history")
def history_command(
    golden_id: Annotated[str, typer.Argument(help="A golden id (retired ones too).")],
    db: DbOption,
) -> None:
    """What happened to a golden record, oldest first: who, when, what (old -> new
    values) and why."""
    from mdm.store.events import history

    found = _read(db, lambda con: history(con, golden_id))
    table = Table()
    for column in ("when", "who", "what", "why"):
        table.add_column(column)
    for event in found:
        what = [event["description"]] + [
            f"{c['attribute']}: {c['old'] if c['old'] is not None else '(none)'} -> "
            f"{c['new'] if c['new'] is not None else '(none)'}"
            for c in event.get("changes", [])
        ]
        table.add_row(
            f"{event['occurred_at']:%Y-%m-%d %H:%M:%S}",
            _plain(event["actor"]),
            Text("\n").join(_plain(line) for line in what),
            _plain(event.get("note") or ""),
        )
    print_table(table)
    out.print(f"{len(found)} event(s)", highlight=False)
