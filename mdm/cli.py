"""The mdm command line: what ETL scripts call. Keep these command forms stable."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mdm.errors import MdmError

app = typer.Typer(
    help="Customer master data: reconcile source files into golden records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RULES = REPO / "rules" / "customer.match.yaml"

DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store file.")]


class StageProgress:
    """Shows stages as a progress bar on a terminal and as plain lines otherwise."""

    STAGES = ("read", "standardise", "prepare", "train", "predict", "cluster", "write")

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = None
        if console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
            )
            self.task = self.bar.add_task("starting", total=len(self.STAGES))
            self.bar.start()

    def stage(self, name: str, detail: str = "") -> None:
        if self.bar is None:
            self.console.print(f"[{name}] {detail}", highlight=False, markup=False, soft_wrap=True)
            return
        done = self.STAGES.index(name) if name in self.STAGES else 0
        self.bar.update(self.task, completed=done, description=f"{name}: {detail}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=len(self.STAGES), description="done")
            self.bar.stop()


def _fail(error: MdmError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=2)


@app.command()
def reconcile(
    sources: Annotated[
        list[str], typer.Argument(help="Source files: PATH or NAME=PATH (NAME = source system).")
    ],
    db: DbOption,
    rules: Annotated[
        Path, typer.Option("--rules", help="Match rules (YAML); mappings in its sources/ folder.")
    ] = DEFAULT_RULES,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Train a new model even if one fits these rules.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Reconcile source files into golden records in the store."""
    from mdm.ingest import parse_source_arg
    from mdm.jobs import RulesBundle
    from mdm.jobs import reconcile as run

    progress = StageProgress(err)
    try:
        bundle = RulesBundle.load(rules)
        specs = [parse_source_arg(text) for text in sources]
        result = run(specs, db, bundle, retrain=retrain, progress=progress)
    except MdmError as error:
        progress.close()
        raise _fail(error) from None
    progress.close()
    if as_json:
        summary = asdict(result)
        summary["db"] = str(result.db)
        out.print_json(json.dumps(summary))
        return
    _print_reconcile(result)


def _print_reconcile(result) -> None:
    table = Table(title="Sources", title_justify="left")
    for column in ("source", "records", "date order", "unparseable values", "file"):
        table.add_column(column)
    for s in result.sources:
        bad = ", ".join(f"{k}: {v}" for k, v in s.unparseable.items() if v) or "none"
        table.add_row(s.name, str(s.records), s.date_order, bad, s.path)
    out.print(table)
    duplicates = result.records - result.golden_records
    placeholders = ", ".join(f"{k}: {v}" for k, v in result.placeholders.items()) or "none"
    out.print(
        f"{result.records} records -> {result.golden_records} golden records "
        f"({result.multi_record_golden} with more than one source record; "
        f"{duplicates} duplicate records merged)\n"
        f"candidate pairs scored: {result.candidate_pairs}; link threshold "
        f"{result.link_threshold:.3f}, review band from {result.review_threshold:.3f}: "
        f"{result.review_tasks} review tasks\n"
        f"placeholder values treated as missing: {placeholders}\n"
        f"model {result.model_id} ({'trained now' if result.model_trained else 'reused'})\n"
        f"seconds per stage: {result.seconds}\n"
        f"results are in {result.db}: export them with "
        f"'mdm export --db {result.db} --table golden|xref|review --out FILE'",
        highlight=False,
    )


@app.command()
def export(
    db: DbOption,
    table: Annotated[str, typer.Option("--table", help="golden, xref or review.")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file: .csv or .parquet.")],
) -> None:
    """Export golden records, the cross-reference or review tasks to CSV or Parquet."""
    from mdm.exports import export_table

    try:
        rows = export_table(db, table, out_path)
    except MdmError as error:
        raise _fail(error) from None
    out.print(f"wrote {rows} rows of {table} to {out_path}", highlight=False)


@app.command()
def evaluate(
    db: DbOption,
    truth: Annotated[str, typer.Option("--truth", help="Input column holding the true person id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Pairwise, B-cubed and blocking-recall figures against a truth column."""
    from mdm.accuracy import evaluate as run

    try:
        report = run(db, truth)
    except MdmError as error:
        raise _fail(error) from None
    if as_json:
        out.print_json(json.dumps(asdict(report)))
        return
    table = Table(title=f"Accuracy against '{truth}' ({report.records} records)")
    for column in ("measure", "precision", "recall", "F1"):
        table.add_column(column)
    p, b = report.pairwise, report.bcubed
    table.add_row("pairwise", f"{p['precision']:.4f}", f"{p['recall']:.4f}", f"{p['f1']:.4f}")
    table.add_row("B-cubed", f"{b['precision']:.4f}", f"{b['recall']:.4f}", f"{b['f1']:.4f}")
    out.print(table)
    blk = report.blocking
    out.print(
        f"blocking recall: {blk['recall']:.4f} ({blk['true_pairs_blocked']} of "
        f"{blk['true_pairs']} true pairs compared); link threshold {report.link_threshold:.3f}",
        highlight=False,
    )


@app.command()
def model(
    db: DbOption,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON here instead of printing it.")
    ] = None,
) -> None:
    """Show or save the trained model: a versioned JSON artefact tied to its rules."""
    from mdm.store import open_store
    from mdm.store.writer import latest_model

    try:
        store = open_store(db, create=False)
        try:
            trained = latest_model(store)
        finally:
            store.close()
    except MdmError as error:
        raise _fail(error) from None
    if out_path is None:
        typer.echo(trained.to_json())
        return
    out_path.write_text(trained.to_json(), encoding="utf-8")
    out.print(f"wrote model {trained.model_id} to {out_path}", highlight=False)


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="Where to write the demo store.")] = Path(
        "out/demo.duckdb"
    ),
) -> None:
    """Reconcile the bundled four-source sample and show what was found."""
    from mdm.accuracy import evaluate as run_evaluate
    from mdm.ingest import SourceSpec
    from mdm.jobs import RulesBundle
    from mdm.jobs import reconcile as run

    sample = REPO / "mdm" / "data" / "sample"
    specs = [SourceSpec(p.stem, p) for p in sorted(sample.iterdir()) if p.suffix != ".md"]
    out.print(f"reconciling the bundled sample in {sample}: {[s.name for s in specs]}")
    progress = StageProgress(err)
    try:
        result = run(specs, db, RulesBundle.load(DEFAULT_RULES), progress=progress)
        progress.close()
        _print_reconcile(result)
        report = run_evaluate(db, "true_person_id")
    except MdmError as error:
        progress.close()
        raise _fail(error) from None
    p, b = report.pairwise, report.bcubed
    out.print(
        f"against the generator's truth: pairwise F1 {p['f1']:.3f} (precision "
        f"{p['precision']:.3f}, recall {p['recall']:.3f}), B-cubed F1 {b['f1']:.3f}",
        highlight=False,
    )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
