"""Review tasks: list and decide."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mdm.cli._common import (
    DEFAULT_RULES,
    ActorOption,
    DbOption,
    _names_store,
    _steward_call,
    app,
    out,
    print_table,
)

if TYPE_CHECKING:
    import duckdb

    from mdm.realtime.engine import Engine

review = typer.Typer(
    help="Review tasks: pairs the engine was unsure about, for a steward to decide.",
    no_args_is_help=True,
)
app.add_typer(review, name="review")


@review.command("list")
def review_list(
    db: DbOption,
    status: Annotated[
        str | None, typer.Option(help="open, decided, linked or withdrawn (default open).")
    ] = "open",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
) -> None:
    """List review tasks, most probable match first."""
    from mdm.review import list_tasks

    con = _names_store(db)
    try:
        frame = list_tasks(con, status=status, limit=limit)
    finally:
        con.close()
    table = Table()
    for column in ("task", "status", "probability", "left record", "name", "right record", "name"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(
            str(row.task_id),
            row.status,
            f"{row.match_probability:.3f}",
            f"{row.source_l}/{row.record_id_l}",
            row.name_l,
            f"{row.source_r}/{row.record_id_r}",
            row.name_r,
        )
    print_table(table)
    out.print(f"{len(frame)} task(s)", highlight=False)


@review.command("decide")
def review_decide(
    task: Annotated[int, typer.Argument(help="The task id (see 'mdm review list').")],
    decision: Annotated[str, typer.Argument(help="same, different or skip.")],
    db: DbOption,
    by: ActorOption = "steward",
    note: Annotated[str | None, typer.Option(help="Why (kept with the decision).")] = None,
    rules: Annotated[
        Path, typer.Option(help="Match rules (for how name variants are learned).")
    ] = DEFAULT_RULES,
) -> None:
    """Decide a review task: the same person, not the same person, or skip."""
    from mdm.rules.match import load_match_rules

    def act(con: duckdb.DuckDBPyConnection, engine: Engine) -> str:
        from mdm.lifecycle import decide

        learning = load_match_rules(rules).learning
        result, effect = decide(con, engine, task, decision, by, learning, note)
        message = result.message()
        if effect.get("golden_records"):
            message += "; golden record(s) now: " + ", ".join(effect["golden_records"])
        return message

    _steward_call(db, rules, act)
