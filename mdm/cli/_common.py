"""What every command shares: the app, its consoles and options, how errors exit, the
store opened for a command, one transaction, plain lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.errors import MdmError, StoreError
from mdm.store import private_files

if TYPE_CHECKING:
    import duckdb

    # (typer vendors click: the context its commands get is typer._click's)
    from typer._click import Context

    from mdm.realtime.engine import Engine

T = TypeVar("T")


class _Commands(TyperGroup):
    """The command group: a command that fails for a reason the user can fix (an
    :class:`~mdm.errors.MdmError`: bad input, a store in use, ...) prints
    ``error: <what was wrong and how to fix it>`` and exits 2, with nothing half-written
    (each command writes in one transaction); anything else is a bug, and shows its trace."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except MdmError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2) from None


app = typer.Typer(
    cls=_Commands,
    help="Customer master data: reconcile source files into golden records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True)


@app.callback()
def _every_command() -> None:
    # What mdm writes holds personal data: files 0600, folders 0700.
    private_files()


DEFAULT_RULES = DEFAULT_MATCH_RULES

#: The entry point group of commands other installed packages add to ``mdm``.
COMMAND_GROUP = "mdm.commands"


def add_installed_commands(app: typer.Typer) -> None:
    """Add the commands installed packages declare (entry point group
    :data:`COMMAND_GROUP`): the HTTP service's ``serve`` lives with the service, in
    ``api/``, which ``mdm`` never imports."""
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        app.command(name=entry.name)(entry.load())


DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store file.")]


RulesOption = Annotated[
    Path, typer.Option(help="Match rules (the survivorship rules beside them apply).")
]

ActorOption = Annotated[str, typer.Option("--by", help="Who is deciding (kept in the log).")]


def _names_store(db: Path, *, create: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the store for name commands; read-only ones need an existing store."""
    import duckdb

    from mdm.store import attach_store

    if not create and not db.is_file():
        raise StoreError(f"no store at {db}; run 'mdm reconcile ... --db {db}' first")
    con = duckdb.connect()
    attach_store(con, db)
    con.execute("USE store")
    return con


def _read(db: Path, query: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """What ``query`` reads from the store (which must exist); errors exit cleanly."""
    con = _names_store(db, create=False)
    try:
        return query(con)
    finally:
        con.close()


def _names_call(
    db: Path, action: Callable[[duckdb.DuckDBPyConnection], str], *, create: bool = True
) -> None:
    """Run a plain write (a name variant, a key, a user, a steward's value) through the
    store's service, in one transaction; print its message."""
    from mdm.store.service import command_service

    with command_service(db, create=create) as service, service.write() as con:
        message = action(con)
    out.print(message, highlight=False)


def _steward_call(
    db: Path, rules: Path, action: Callable[[duckdb.DuckDBPyConnection, Engine], str]
) -> None:
    """Run a steward's operation through the store's service, decided by a real-time
    engine over the store, in one transaction; print its message (errors exit
    cleanly, nothing written)."""
    from mdm.realtime.engine import Engine
    from mdm.rules.bundle import RulesBundle
    from mdm.store.service import command_service

    bundle = RulesBundle.load(rules)

    def engine(con: duckdb.DuckDBPyConnection) -> Engine:
        return Engine(con, bundle.survivorship, bundle.rules_dir)

    with command_service(db, engine) as service:
        message = service.steward(action)
    out.print(message, highlight=False)


@contextmanager
def _transaction(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store (which must exist) in one transaction through its service, committed if
    the block succeeds."""
    from mdm.store.service import command_service

    with command_service(db) as service, service.write() as con:
        yield con


def print_table(table: Table) -> None:
    """Print a table whole: to a terminal, fitted to its width (long cells folded);
    into a pipe or file, as wide as its widest row, so that no value is cut off at the
    80 columns a console assumes when it cannot ask."""
    if out.is_terminal:
        out.print(table)
        return
    width = Measurement.get(out, out.options.update_width(100_000), table).maximum
    assumed = out.width  # print(width=...) is capped at the console's width: widen it
    out.width = max(width, assumed)
    try:
        out.print(table)
    finally:
        out.width = assumed


def _plain(value: object) -> Text:
    """A stored value as one line of plain text: control characters shown as escapes
    (a value written before they were refused cannot forge a line), no markup."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(value)
    )
    return Text(text)
