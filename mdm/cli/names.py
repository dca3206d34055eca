"""Name variants: list, search, propose, approve, reject, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from mdm.cli._common import (
    ActorOption,
    DbOption,
    _names_call,
    _names_store,
    app,
    out,
    print_table,
)
from mdm.errors import InputError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

names = typer.Typer(
    help="Name variants (Bob ~ Robert): list, search, propose, approve, reject, export.",
    no_args_is_help=True,
)
app.add_typer(names, name="names")


def _print_variants(frame: pd.DataFrame) -> None:
    table = Table()
    for column in ("name", "variant", "kind", "origin", "evidence", "status"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(row.name, row.variant, row.kind, row.origin, str(row.evidence), row.status)
    print_table(table)
    out.print(f"{len(frame)} pair(s)", highlight=False)


def _show_variants(db: Path, **filters: Any) -> None:
    from mdm.store.names import list_variants

    con = _names_store(db)
    try:
        frame = list_variants(con, **filters)
    finally:
        con.close()
    _print_variants(frame)


@names.command("list")
def names_list(
    db: DbOption,
    status: Annotated[str | None, typer.Option(help="proposed, active or rejected.")] = None,
    origin: Annotated[str | None, typer.Option(help="seed, learned or steward.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
) -> None:
    """List name variants, most evidence first."""
    _show_variants(db, status=status, origin=origin, limit=limit)


@names.command("search")
def names_search(
    text: Annotated[str, typer.Argument(help="A name or part of one.")],
    db: DbOption,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
) -> None:
    """Find the variants of a name (any status)."""
    _show_variants(db, text=text, limit=limit)


@names.command("propose")
def names_propose(
    name: str,
    variant: str,
    db: DbOption,
    kind: Annotated[str, typer.Option(help="nickname, spelling or transliteration.")] = "nickname",
    by: ActorOption = "steward",
) -> None:
    """Propose that VARIANT is another form of NAME (for a steward to approve)."""
    from mdm.store.names import propose

    _names_call(db, lambda con: propose(con, name, variant, kind, by))


@names.command("approve")
def names_approve(name: str, variant: str, db: DbOption, by: ActorOption = "steward") -> None:
    """Approve a pair: matching uses it at once; affected review tasks are re-scored."""
    _decide_variant(db, name, variant, approve=True, actor=by)


@names.command("reject")
def names_reject(name: str, variant: str, db: DbOption, by: ActorOption = "steward") -> None:
    """Reject a pair: not used, never proposed again by the machine; tasks re-scored."""
    _decide_variant(db, name, variant, approve=False, actor=by)


def _decide_variant(db: Path, name: str, variant: str, approve: bool, actor: str) -> None:
    def act(con: duckdb.DuckDBPyConnection) -> str:
        from mdm.review import decide_variant

        change = decide_variant(con, name, variant, approve=approve, actor=actor)
        return (
            f"{change.message}; {change.records_updated} record(s) given new variant keys, "
            f"{change.rescored_tasks} review task(s) re-scored"
        )

    _names_call(db, act)


@names.command("export")
def names_export(
    db: DbOption,
    out_path: Annotated[Path, typer.Option("--out", help="Output file: .csv or .parquet.")],
    status: Annotated[str | None, typer.Option(help="proposed, active or rejected.")] = None,
) -> None:
    """Export name variants (all, or of one status) to CSV or Parquet."""
    from mdm.store.names import list_variants

    if out_path.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"cannot export to '{out_path}': the file must end in .csv or .parquet")
    con = _names_store(db)
    try:
        frame = list_variants(con, status=status, limit=10_000_000)
    finally:
        con.close()
    from mdm.exports import write_table

    write_table(frame, out_path)
    out.print(f"wrote {len(frame)} name pairs to {out_path}", highlight=False)
