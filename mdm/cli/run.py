"""Running reconciliation: reconcile, export, evaluate, train, model, init, demo."""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mdm.bundled import SAMPLE_DIR
from mdm.cli._common import (
    DEFAULT_RULES,
    DbOption,
    _transaction,
    app,
    err,
    out,
    print_table,
)
from mdm.cli.sources import print_columns, sources
from mdm.errors import ConfigError, InputError, MdmError
from mdm.progress import RECONCILE_STAGES, JsonLinesProgress

if TYPE_CHECKING:
    from mdm.bulk.ingest import SourceSummary
    from mdm.bulk.reconcile import ReconcileResult


class StageProgress:
    """Shows stages as a progress bar on a terminal and as plain lines otherwise."""

    STAGES = RECONCILE_STAGES

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


class _Both:
    """Stages shown to a person and written as JSON lines for a program."""

    def __init__(self, shown: StageProgress, written: JsonLinesProgress) -> None:
        self.shown, self.written = shown, written

    def stage(self, name: str, detail: str = "") -> None:
        self.shown.stage(name, detail)
        self.written.stage(name, detail)


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
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental",
            help="Match these new and changed records against the store's golden records "
            "(no full re-run; unchanged records are left alone).",
        ),
    ] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="Where candidate pairs are scored: duckdb (default) or spark [env: MDM_BACKEND].",
        ),
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL, e.g. spark://host:7077 (default local[*]) "
            "[env: MDM_SPARK_MASTER].",
        ),
    ] = None,
    spark_workdir: Annotated[
        Path | None,
        typer.Option(
            "--spark-workdir",
            help="Folder this machine and the Spark cluster both see; the scored pairs are "
            "kept there (default: a temporary folder) [env: MDM_SPARK_WORKDIR].",
        ),
    ] = None,
    progress_file: Annotated[
        Path | None,
        typer.Option(
            "--progress-file",
            help="Also write each stage, and the error a failed run ends with, as JSON lines "
            "to this file (for a program following the run; see mdm/progress.py).",
        ),
    ] = None,
) -> None:
    """Reconcile source files into golden records in the store."""
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile as run
    from mdm.bulk.spark import Backend
    from mdm.rules.bundle import RulesBundle

    chosen = Backend.from_environment(backend, spark_master, spark_workdir)
    if incremental:
        if chosen.kind != "duckdb":
            raise ConfigError(
                "--incremental matches in the service's engine, not on Spark; "
                "drop --backend spark (or MDM_BACKEND) for incremental batches"
            )
        _reconcile_incremental(sources, db, rules, as_json)
        return
    shown = StageProgress(err)
    with ExitStack() as stack:
        written = None
        if progress_file is not None:
            written = JsonLinesProgress(stack.enter_context(progress_file.open("a")))
        progress = shown if written is None else _Both(shown, written)
        try:
            bundle = RulesBundle.load(rules)
            specs = [parse_source_arg(text) for text in sources]
            result = run(specs, db, bundle, retrain=retrain, progress=progress, backend=chosen)
        except MdmError as error:
            shown.close()
            if written is not None:
                written.error(str(error))
            raise
    shown.close()
    if as_json:
        summary = asdict(result)
        summary["db"] = str(result.db)
        out.print_json(json.dumps(summary))
        return
    _print_reconcile(result)


def _reconcile_incremental(sources: list[str], db: Path, rules: Path, as_json: bool) -> None:
    from mdm.bulk.ingest import parse_source_arg
    from mdm.incremental import as_json as to_json
    from mdm.incremental import describe, reconcile_incremental
    from mdm.rules.bundle import RulesBundle

    bundle = RulesBundle.load(rules)
    specs = [parse_source_arg(text) for text in sources]
    result = reconcile_incremental(specs, db, bundle.rules_dir, bundle.survivorship)
    if as_json:
        out.print_json(to_json(result))
        return
    out.print(describe(result), highlight=False)


def _print_reconcile(result: ReconcileResult) -> None:
    table = Table(title="Sources", title_justify="left")
    for column in ("source", "records", "date order", "unparseable values", "file"):
        table.add_column(column)
    for s in result.sources:
        bad = ", ".join(f"{k}: {v}" for k, v in s.unparseable.items() if v) or "none"
        table.add_row(s.name, str(s.records), s.date_order, bad, s.path)
    print_table(table)
    print_columns(out, result.sources)
    out.print(_locale_table(result.sources))
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
        + "".join(f"{note}\n" for note in result.notes)
        + f"model {result.model_id} ({'trained now' if result.model_trained else 'reused'})\n"
        f"seconds per stage: {result.seconds}\n"
        f"results are in {result.db}: export them with "
        f"'mdm export --db {result.db} --table golden|xref|review --out FILE'",
        highlight=False,
    )


def _locale_table(sources: Iterable[SourceSummary]) -> Table:
    """Per source: the phone region, postcode country and date order used, and why."""
    table = Table(title="Locale per source (for records without their own country)")
    for column in ("source", "phone region", "postcode country", "date order", "own country"):
        table.add_column(column)
    for s in sources:
        cells = [
            f"{c.get('value') or 'any'} ({c.get('reason')})" if c else "-"
            for c in (s.locale.get(n) for n in ("phone_region", "postcode_country", "date_order"))
        ]
        own = ", ".join(f"{k}: {v}" for k, v in s.own_country.items()) or "none"
        cells[0] += f"; {s.local_only} local numbers without area code" if s.local_only else ""
        table.add_row(s.name, *cells, own)
    return table


@app.command()
def export(
    db: DbOption,
    table: Annotated[str, typer.Option("--table", help="golden, xref or review.")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file: .csv or .parquet.")],
) -> None:
    """Export golden records, the cross-reference or review tasks to CSV or Parquet."""
    from mdm.exports import export_table

    rows = export_table(db, table, out_path)
    out.print(f"wrote {rows} rows of {table} to {out_path}", highlight=False)


@app.command()
def evaluate(
    db: DbOption,
    truth: Annotated[str, typer.Option("--truth", help="Input column holding the true person id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Pairwise, B-cubed and blocking-recall figures against a truth column."""
    from mdm.accuracy import evaluate as run

    report = run(db, truth)
    if as_json:
        out.print_json(json.dumps(asdict(report)))
        return
    table = Table(title=f"Accuracy against '{truth}' ({report.records} records)")
    for column in ("measure", "precision", "recall", "F1"):
        table.add_column(column)
    p, b = report.pairwise, report.bcubed
    table.add_row("pairwise", f"{p['precision']:.4f}", f"{p['recall']:.4f}", f"{p['f1']:.4f}")
    table.add_row("B-cubed", f"{b['precision']:.4f}", f"{b['recall']:.4f}", f"{b['f1']:.4f}")
    print_table(table)
    blk = report.blocking
    threshold = "none" if report.link_threshold is None else f"{report.link_threshold:.3f}"
    out.print(
        f"blocking recall: {blk['recall']:.4f} ({blk['true_pairs_blocked']} of "
        f"{blk['true_pairs']} true pairs compared); link threshold {threshold}",
        highlight=False,
    )


@app.command()
def train(
    db: DbOption,
    with_decisions: Annotated[
        bool,
        typer.Option(
            "--with-decisions",
            help="Re-estimate m from the stewards' 'same person' decisions and merges.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; store nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-estimate the model with the stewards' labels: how its parameters and the review
    queue move. The next reconcile and the next service start use it."""
    from mdm.training import as_dict, describe, retrain_with_decisions

    if not with_decisions:
        raise InputError(
            "say what to train with: --with-decisions (a full retrain without labels is "
            "'mdm reconcile ... --retrain')"
        )
    with _transaction(db) as con:
        result = retrain_with_decisions(con, store=not dry_run)
    if as_json:
        typer.echo(json.dumps(as_dict(result), indent=2))
        return
    for line in describe(result):
        out.print(line, highlight=False)


@app.command()
def model(
    db: DbOption,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON here instead of printing it.")
    ] = None,
) -> None:
    """Show or save the trained model: a versioned JSON artefact tied to its rules."""
    from mdm.store import open_store
    from mdm.store.reads import latest_model

    store = open_store(db, create=False)
    try:
        trained = latest_model(store)
    finally:
        store.close()
    if out_path is None:
        typer.echo(trained.to_json())
        return
    out_path.write_text(trained.to_json(), encoding="utf-8")
    out.print(f"wrote model {trained.model_id} to {out_path}", highlight=False)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write the rules into.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite files already there.")] = False,
) -> None:
    """Write an editable copy of the default match and survivorship rules to DIRECTORY."""
    from mdm.bundled import copy_rules

    written = copy_rules(directory, overwrite=force)
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    out.print(
        f"edit them, then: mdm reconcile --rules {written[0]} FILES... "
        f"(the service: MDM_RULES={written[0]} mdm serve)",
        highlight=False,
    )


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="Where to write the demo store.")] = Path(
        "out/demo.duckdb"
    ),
) -> None:
    """Reconcile the bundled four-source sample and show what was found."""
    from mdm.accuracy import evaluate as run_evaluate
    from mdm.bulk.ingest import SourceSpec
    from mdm.bulk.reconcile import reconcile as run
    from mdm.rules.bundle import RulesBundle

    sample = SAMPLE_DIR  # its source mappings are in sources/
    files = sorted(p for p in sample.iterdir() if p.is_file() and p.suffix != ".md")
    specs = [SourceSpec(p.stem, p) for p in files]
    out.print(f"reconciling the bundled sample in {sample}: {[s.name for s in specs]}")
    progress = StageProgress(err)
    try:
        rules = RulesBundle.load(DEFAULT_RULES, mappings_dir=sample)
        result = run(specs, db, rules, progress=progress)
        progress.close()
        _print_reconcile(result)
        report = run_evaluate(db, "true_person_id")
    except MdmError:
        progress.close()
        raise
    p, b = report.pairwise, report.bcubed
    out.print(
        f"against the generator's truth: pairwise F1 {p['f1']:.3f} (precision "
        f"{p['precision']:.3f}, recall {p['recall']:.3f}), B-cubed F1 {b['f1']:.3f}",
        highlight=False,
    )


app.add_typer(sources, name="sources")
