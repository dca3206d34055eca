"""Golden records: show, override, clear, merge, unmerge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mdm.cli._common import (
    DEFAULT_RULES,
    ActorOption,
    DbOption,
    RulesOption,
    _names_call,
    _read,
    _steward_call,
    app,
    out,
    print_table,
)
from mdm.clock import utcnow

if TYPE_CHECKING:
    import duckdb

    from mdm.realtime.engine import Engine

golden = typer.Typer(
    help="Golden records: show one with the lineage of each value; set or clear a steward's value.",
    no_args_is_help=True,
)
app.add_typer(golden, name="golden")


@golden.command("show")
def golden_show(
    golden_id: Annotated[
        str, typer.Argument(help="A golden id (a retired one shows its survivor).")
    ],
    db: DbOption,
) -> None:
    """A golden record: each value, which source record supplied it and by which rule."""
    from mdm.store.reads import get_golden

    found = _read(db, lambda con: get_golden(con, golden_id))
    if found["requested_id"] != found["golden_id"]:
        out.print(f"{golden_id} is retired; it lives on as {found['golden_id']}", highlight=False)
    out.print(
        f"golden record {found['golden_id']} ({found['status']}, {found['record_count']} "
        f"source record(s))",
        highlight=False,
    )
    lineage = {line["attribute"]: line for line in found["lineage"]}
    table = Table()
    for column in ("attribute", "value", "from", "rule"):
        table.add_column(column)
    for attribute, line in lineage.items():
        table.add_row(
            attribute, str(line["value"]), f"{line['source']}/{line['record_id']}", line["rule"]
        )
    print_table(table)
    out.print(
        "records: " + ", ".join(f"{r['source']}/{r['record_id']}" for r in found["records"]),
        highlight=False,
    )
    for c in found["constraints"]:
        link = "must link" if c["kind"] == "must" else "cannot link"
        why = f" ({c['reason']})" if c["reason"] else ""
        out.print(
            f"{c['left']} {link} {c['right']}: {c['origin']} by {c['set_by']} "
            f"on {c['set_at']:%Y-%m-%d %H:%M}{why}",
            highlight=False,
        )


@golden.command("override")
def golden_override(
    golden_id: Annotated[str, typer.Argument(help="An active golden id.")],
    attribute: Annotated[str, typer.Argument(help="The attribute, e.g. email.")],
    value: Annotated[str, typer.Argument(help="The value the golden record keeps.")],
    db: DbOption,
    by: ActorOption = "steward",
    reason: Annotated[str | None, typer.Option(help="Why (kept with the override).")] = None,
    rules: RulesOption = DEFAULT_RULES,
) -> None:
    """Set a steward's value: it wins over survivorship until cleared."""
    from mdm.overrides import set_override
    from mdm.rules.bundle import RulesBundle

    def act(con: duckdb.DuckDBPyConnection) -> str:
        survivorship = RulesBundle.load(rules).survivorship
        set_override(con, golden_id, attribute, value, by, reason, survivorship, utcnow())
        return f"{golden_id}: {attribute} is now set by {by} until cleared"

    _names_call(db, act, create=False)


@golden.command("clear")
def golden_clear(
    golden_id: Annotated[str, typer.Argument(help="An active golden id.")],
    attribute: Annotated[str, typer.Argument(help="The attribute to give back to survivorship.")],
    db: DbOption,
    by: ActorOption = "steward",
    rules: RulesOption = DEFAULT_RULES,
) -> None:
    """Clear a steward's value: survivorship decides the attribute again."""
    from mdm.overrides import clear_override
    from mdm.rules.bundle import RulesBundle

    def act(con: duckdb.DuckDBPyConnection) -> str:
        survivorship = RulesBundle.load(rules).survivorship
        clear_override(con, golden_id, attribute, by, survivorship, utcnow())
        return f"{golden_id}: {attribute} is decided by survivorship again"

    _names_call(db, act, create=False)


@golden.command("merge")
def golden_merge(
    first: Annotated[str, typer.Argument(help="An active golden id.")],
    second: Annotated[str, typer.Argument(help="Another active golden id.")],
    db: DbOption,
    by: ActorOption = "steward",
    reason: Annotated[str | None, typer.Option(help="Why (kept with the constraint).")] = None,
    rules: RulesOption = DEFAULT_RULES,
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm",
            help="Merge even when the model holds them to be different people (without "
            "it, such a merge is refused with the evidence against).",
        ),
    ] = False,
) -> None:
    """Merge two golden records into one: the older id survives, the other resolves to
    it. A must-link keeps them together on every later run."""
    from mdm.lifecycle import merge

    def act(con: duckdb.DuckDBPyConnection, engine: Engine) -> str:
        done = merge(con, engine, first, second, by, reason, confirmed=confirm)
        return f"merged into {done['golden_id']}; retired: {', '.join(done['retired'])}"

    _steward_call(db, rules, act)


@golden.command("unmerge")
def golden_unmerge(
    golden_id: Annotated[str, typer.Argument(help="The golden record to take records out of.")],
    records: Annotated[
        list[str], typer.Argument(help="Source records to take out, as SOURCE/RECORD_ID.")
    ],
    db: DbOption,
    by: ActorOption = "steward",
    reason: Annotated[str | None, typer.Option(help="Why (kept with the constraint).")] = None,
    rules: RulesOption = DEFAULT_RULES,
) -> None:
    """Take source records out of a golden record into one of their own (the id they
    had before they joined, where there was one). A cannot-link keeps them apart."""
    from mdm.lifecycle import parse_record, unmerge

    def act(con: duckdb.DuckDBPyConnection, engine: Engine) -> str:
        keys = [parse_record(text) for text in records]
        done = unmerge(con, engine, golden_id, keys, by, reason)
        return (
            f"{len(keys)} record(s) taken out of {golden_id} into {', '.join(done['into'])}; "
            f"golden records now: {', '.join(done['golden_records'])}"
        )

    _steward_call(db, rules, act)
