"""``mdm sources``: propose a source mapping from a file's headers, for review."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mdm.errors import InputError

if TYPE_CHECKING:
    from mdm.bulk.ingest import SourceSummary
    from mdm.headers import ColumnMapping

sources = typer.Typer(
    help="Source mappings: propose one from a file's headers (mdm sources infer FILE).",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)


@sources.command("infer")
def infer(
    file: Annotated[Path, typer.Argument(help="A source file: CSV, Parquet, .xlsx, JSON lines.")],
    source: Annotated[
        str | None, typer.Option("--source", help="The source system (default: the file's stem).")
    ] = None,
    write: Annotated[
        Path | None,
        typer.Option("--write", help="Write the proposed mapping here as YAML, for review."),
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="The Excel sheet to read.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --write file.")] = False,
) -> None:
    """Propose how FILE's columns map onto the customer schema: each attribute's column and
    how sure (schema name or known synonym), and the columns left unused (they are kept as
    extra attributes). With --write, save it as a source mapping to review and keep as
    sources/<source>.yaml beside your rules file."""
    from mdm.bulk.ingest import read_header
    from mdm.headers import map_columns, mapping_yaml

    name = source or file.stem
    if write is not None and write.exists() and not force:
        raise InputError(f"{write} exists; give another --write path or add --force")
    mapping = map_columns(read_header(file, sheet))
    table = Table(title=f"Proposed mapping for source '{name}' ({file})", title_justify="left")
    for column in ("attribute", "<- column", "how"):
        table.add_column(column)
    for choice in mapping.chosen:
        table.add_row(choice.attribute, choice.column, str(choice.basis))
    out.print(table)
    out.print(f"not used (kept as extra attributes): {_unused(mapping)}", highlight=False)
    if "record_id" not in mapping.columns:
        out.print("no column looks like a record id: map one (record_id: <column>)")
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(mapping_yaml(mapping, name, file.name), encoding="utf-8")
        out.print(f"wrote {write}: review it, then keep it as sources/{name}.yaml beside your "
                  f"rules file and run 'mdm reconcile {name}={file} --rules RULES'",
                  highlight=False)  # fmt: skip


def _unused(mapping: ColumnMapping) -> str:
    notes = [mapping.unused_note(column) for column in mapping.unused]
    return ", ".join(notes) or "none"


def print_columns(console: Console, summaries: Iterable[SourceSummary]) -> None:
    """Each source's columns, a line a source: what became which attribute and how, and
    the columns not used (kept as extra attributes). ``summaries``: ``SourceSummary``."""
    from mdm.headers import Basis, ColumnChoice, ColumnMapping

    for s in summaries:
        chosen = [ColumnChoice(m["attribute"], m["column"], Basis(m["basis"])) for m in s.mapped]
        described = ColumnMapping(tuple(chosen), tuple(s.unused)).describe()
        console.print(f"columns of {s.name}: {described}", highlight=False, markup=False)
