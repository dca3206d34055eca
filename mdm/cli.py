"""The mdm command line: what ETL scripts call. Keep these command forms stable."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mdm.bundled import DEFAULT_MATCH_RULES, SAMPLE_DIR
from mdm.cli_sources import print_columns, sources
from mdm.clock import utcnow
from mdm.errors import ConfigError, InputError, MdmError, StoreError
from mdm.store import private_files

app = typer.Typer(
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
) -> None:
    """Reconcile source files into golden records in the store."""
    from mdm.ingest import parse_source_arg
    from mdm.jobs import reconcile as run
    from mdm.rules.bundle import RulesBundle
    from mdm.spark import Backend

    try:
        chosen = Backend.from_environment(backend, spark_master, spark_workdir)
    except MdmError as error:
        raise _fail(error) from None
    if incremental:
        if chosen.kind != "duckdb":
            raise _fail(
                ConfigError(
                    "--incremental matches in the service's engine, not on Spark; "
                    "drop --backend spark (or MDM_BACKEND) for incremental batches"
                )
            )
        _reconcile_incremental(sources, db, rules, as_json)
        return
    progress = StageProgress(err)
    try:
        bundle = RulesBundle.load(rules)
        specs = [parse_source_arg(text) for text in sources]
        result = run(specs, db, bundle, retrain=retrain, progress=progress, backend=chosen)
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


def _reconcile_incremental(sources: list[str], db: Path, rules: Path, as_json: bool) -> None:
    from mdm.incremental import as_json as to_json
    from mdm.incremental import describe, reconcile_incremental
    from mdm.ingest import parse_source_arg
    from mdm.rules.bundle import RulesBundle

    try:
        bundle = RulesBundle.load(rules)
        specs = [parse_source_arg(text) for text in sources]
        result = reconcile_incremental(specs, db, bundle.rules_dir, bundle.survivorship)
    except MdmError as error:
        raise _fail(error) from None
    if as_json:
        out.print_json(to_json(result))
        return
    out.print(describe(result), highlight=False)


def _print_reconcile(result) -> None:
    table = Table(title="Sources", title_justify="left")
    for column in ("source", "records", "date order", "unparseable values", "file"):
        table.add_column(column)
    for s in result.sources:
        bad = ", ".join(f"{k}: {v}" for k, v in s.unparseable.items() if v) or "none"
        table.add_row(s.name, str(s.records), s.date_order, bad, s.path)
    out.print(table)
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


def _locale_table(sources) -> Table:
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
        raise _fail(
            InputError(
                "say what to train with: --with-decisions (a full retrain without labels is "
                "'mdm reconcile ... --retrain')"
            )
        )
    try:
        with _transaction(db) as con:
            result = retrain_with_decisions(con, store=not dry_run)
    except MdmError as error:
        raise _fail(error) from None
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
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write the rules into.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite files already there.")] = False,
) -> None:
    """Write an editable copy of the default match and survivorship rules to DIRECTORY."""
    from mdm.bundled import copy_rules

    try:
        written = copy_rules(directory, overwrite=force)
    except MdmError as error:
        raise _fail(error) from None
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
    from mdm.ingest import SourceSpec
    from mdm.jobs import reconcile as run
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
    except MdmError as error:
        progress.close()
        raise _fail(error) from None
    p, b = report.pairwise, report.bcubed
    out.print(
        f"against the generator's truth: pairwise F1 {p['f1']:.3f} (precision "
        f"{p['precision']:.3f}, recall {p['recall']:.3f}), B-cubed F1 {b['f1']:.3f}",
        highlight=False,
    )


app.add_typer(sources, name="sources")

names = typer.Typer(
    help="Name variants (Bob ~ Robert): list, search, propose, approve, reject, export.",
    no_args_is_help=True,
)
app.add_typer(names, name="names")

ActorOption = Annotated[str, typer.Option("--by", help="Who is deciding (kept in the log).")]


def _names_store(db: Path, *, create: bool = False):
    """A connection to the store for name commands; read-only ones need an existing store."""
    import duckdb

    from mdm.store import attach_store

    if not create and not db.is_file():
        raise StoreError(f"no store at {db}; run 'mdm reconcile ... --db {db}' first")
    con = duckdb.connect()
    attach_store(con, db)
    con.execute("USE store")
    return con


def _read(db: Path, query):
    """What ``query`` reads from the store (which must exist); errors exit cleanly."""
    try:
        con = _names_store(db, create=False)
        try:
            return query(con)
        finally:
            con.close()
    except MdmError as error:
        raise _fail(error) from None


def _names_call(db: Path, action, *, create: bool = True) -> None:
    from mdm.store.transaction import transaction

    try:
        con = _names_store(db, create=create)
        try:
            with transaction(con):
                message = action(con)
        finally:
            con.close()
    except MdmError as error:
        raise _fail(error) from None
    out.print(message, highlight=False)


def _print_variants(frame) -> None:
    table = Table()
    for column in ("name", "variant", "kind", "origin", "evidence", "status"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(row.name, row.variant, row.kind, row.origin, str(row.evidence), row.status)
    out.print(table)
    out.print(f"{len(frame)} pair(s)", highlight=False)


def _show_variants(db: Path, **filters) -> None:
    from mdm.names.store import list_variants

    try:
        con = _names_store(db)
        try:
            frame = list_variants(con, **filters)
        finally:
            con.close()
    except MdmError as error:
        raise _fail(error) from None
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
    from mdm.names.store import propose

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
    def act(con) -> str:
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
    from mdm.names.store import list_variants

    try:
        if out_path.suffix.lower() not in (".csv", ".parquet"):
            raise InputError(
                f"cannot export to '{out_path}': the file must end in .csv or .parquet"
            )
        con = _names_store(db)
        try:
            frame = list_variants(con, status=status, limit=10_000_000)
        finally:
            con.close()
    except MdmError as error:
        raise _fail(error) from None
    from mdm.exports import write_table

    write_table(frame, out_path)
    out.print(f"wrote {len(frame)} name pairs to {out_path}", highlight=False)


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

    try:
        con = _names_store(db)
        try:
            frame = list_tasks(con, status=status, limit=limit)
        finally:
            con.close()
    except MdmError as error:
        raise _fail(error) from None
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
    out.print(table)
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

    def act(con, engine) -> str:
        from mdm.lifecycle import decide

        learning = load_match_rules(rules).learning
        result, effect = decide(con, engine, task, decision, by, learning, note)
        message = result.message()
        if effect.get("golden_records"):
            message += "; golden record(s) now: " + ", ".join(effect["golden_records"])
        return message

    _steward_call(db, rules, act)


def _steward_call(db: Path, rules: Path, action) -> None:
    """Run a steward's operation with a real-time engine over the store, in one
    transaction; print its message (errors exit cleanly, nothing written)."""
    from mdm.realtime.engine import Engine
    from mdm.rules.bundle import RulesBundle

    try:
        bundle = RulesBundle.load(rules)
        with _transaction(db) as con:
            message = action(con, Engine(con, bundle.survivorship, bundle.rules_dir))
    except MdmError as error:
        raise _fail(error) from None
    out.print(message, highlight=False)


@contextmanager
def _transaction(db: Path) -> Iterator:
    """The store (which must exist) in one transaction, committed if the block succeeds."""
    from mdm.store import open_store
    from mdm.store.transaction import transaction

    if not db.is_file():
        raise StoreError(f"no store at {db}; run 'mdm reconcile ... --db {db}' first")
    con = open_store(db, create=False)
    try:
        with transaction(con):
            yield con
    finally:
        con.close()


golden = typer.Typer(
    help="Golden records: show one with the lineage of each value; set or clear a steward's value.",
    no_args_is_help=True,
)
app.add_typer(golden, name="golden")

RulesOption = Annotated[
    Path, typer.Option(help="Match rules (the survivorship rules beside them apply).")
]


@golden.command("show")
def golden_show(
    golden_id: Annotated[
        str, typer.Argument(help="A golden id (a retired one shows its survivor).")
    ],
    db: DbOption,
) -> None:
    """A golden record: each value, which source record supplied it and by which rule."""
    from mdm.realtime.engine import get_golden

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
    out.print(table)
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

    def act(con) -> str:
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

    def act(con) -> str:
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
) -> None:
    """Merge two golden records into one: the older id survives, the other resolves to
    it. A must-link keeps them together on every later run."""
    from mdm.lifecycle import merge

    def act(con, engine) -> str:
        done = merge(con, engine, first, second, by, reason)
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

    def act(con, engine) -> str:
        keys = [parse_record(text) for text in records]
        done = unmerge(con, engine, golden_id, keys, by, reason)
        return (
            f"{len(keys)} record(s) taken out of {golden_id} into {', '.join(done['into'])}; "
            f"golden records now: {', '.join(done['golden_records'])}"
        )

    _steward_call(db, rules, act)


users = typer.Typer(
    help="People who sign in to the steward pages: stewards decide, viewers read.",
    no_args_is_help=True,
)
app.add_typer(users, name="users")


@users.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The name to sign in with, e.g. j.smith.")],
    db: DbOption,
    role: Annotated[str, typer.Option(help="steward (decides) or viewer (reads).")] = "steward",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; the password is asked for (or read from stdin), never an argument."""
    from mdm.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    def act(con) -> str:
        user = add_user(con, username, password, role)
        return f"user {user.username} added ({user.role})"

    _names_call(db, act, create=False)


@users.command("list")
def users_list(db: DbOption) -> None:
    """Every user and their role."""
    from mdm.users import list_users

    for user in _read(db, list_users):
        since = f"{user.created_at:%Y-%m-%d}"
        out.print(f"{user.username}\t{user.role}\tsince {since}", highlight=False)


@users.command("remove")
def users_remove(username: Annotated[str, typer.Argument()], db: DbOption) -> None:
    """Remove a user: they cannot sign in any more."""
    from mdm.users import remove_user

    def act(con) -> str:
        remove_user(con, username)
        return f"user {username} removed"

    _names_call(db, act, create=False)


keys = typer.Typer(
    help="API keys for systems that call the service: etl, operational, steward, admin.",
    no_args_is_help=True,
)
app.add_typer(keys, name="keys")


@keys.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'web shop'.")],
    db: DbOption,
    role: Annotated[
        str, typer.Option(help="etl (jobs), operational (match, upsert, read), steward, admin.")
    ] = "operational",
    by: Annotated[str, typer.Option("--by", help="Who makes the key (kept).")] = "admin",
    expires: Annotated[
        str | None,
        typer.Option(
            help="When the key stops working: a number of days ('90d'), a date "
            "('2027-06-30', midnight UTC) or a UTC time ('2027-06-30T12:00'). Default: never."
        ),
    ] = None,
) -> None:
    """Make a key and print it once: only a hash is kept, so store it now."""
    from mdm.keys import create_key, parse_expiry

    made: list[str] = []
    expires_at = parse_expiry(expires) if expires else None

    def act(con) -> str:
        key, token = create_key(con, name, role, by, expires_at)
        made.append(token)
        until = f", until {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else ""
        return f"key {key.key_id} ({key.name}, {key.role}{until}) made; it is shown this once:"

    _names_call(db, act, create=False)
    print(made[0])


@keys.command("list")
def keys_list(
    db: DbOption,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
) -> None:
    """Every key: id, role, name, who made it and when, its state, when it expires and
    when it was last used (never the key itself). Tab-separated, with a header line."""
    from mdm.keys import list_keys

    def when(moment) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "-"

    print("key_id\trole\tname\tmade\tstate\texpires\tlast_used")
    for key in _read(db, lambda con: list_keys(con, include_revoked=revoked)):
        print(
            f"{key.key_id}\t{key.role}\t{_plain(key.name)}\tby {_plain(key.created_by)} "
            f"{key.created_at:%Y-%m-%d}\t{key.state}\t{when(key.expires_at)}\t"
            f"{when(key.last_used_at)}"
        )


@keys.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'mdm keys list').")],
    db: DbOption,
    by: Annotated[str, typer.Option("--by", help="Who revokes it (kept).")] = "admin",
) -> None:
    """Revoke a key: the service refuses it from then on (a running service: use
    DELETE /v1/keys/{id}, since the service holds the store)."""
    from mdm.keys import revoke_key

    def act(con) -> str:
        key = revoke_key(con, key_id, by)
        return f"key {key.key_id} ({key.name}) revoked"

    _names_call(db, act, create=False)


@app.command("replay")
def replay_command(db: DbOption) -> None:
    """Rebuild each record's golden id and each golden id's status from the event log
    alone, and compare with the tables (exit 1 if they differ)."""
    from mdm.events import replay, replay_differences

    def check(con):
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

    try:
        made = backup(db, target)
    except MdmError as error:
        raise _fail(error) from None
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

    try:
        restored = restore(backup_file, db, force=force, rules=RulesBundle.load(rules))
    except MdmError as error:
        raise _fail(error) from None
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

    try:
        survivorship = RulesBundle.load(rules).survivorship
    except MdmError as error:
        raise _fail(error) from None
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

    try:
        done = erase(db, golden_id, RulesBundle.load(rules), by, source or None)
    except MdmError as error:
        raise _fail(error) from None
    out.print(done.message(), highlight=False)


def _plain(value: object) -> Text:
    """A stored value as one line of plain text: control characters shown as escapes
    (a value written before they were refused cannot forge a line), no markup."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(value)
    )
    return Text(text)


@app.command("history")
def history_command(
    golden_id: Annotated[str, typer.Argument(help="A golden id (retired ones too).")],
    db: DbOption,
) -> None:
    """What happened to a golden record, oldest first: who, when, what."""
    from mdm.events import history

    found = _read(db, lambda con: history(con, golden_id))
    table = Table()
    for column in ("when", "who", "what"):
        table.add_column(column)
    for event in found:
        table.add_row(
            f"{event['occurred_at']:%Y-%m-%d %H:%M:%S}",
            _plain(event["actor"]),
            _plain(event["description"]),
        )
    out.print(table)
    out.print(f"{len(found)} event(s)", highlight=False)


@app.command()
def serve(
    db: DbOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    rules: Annotated[Path, typer.Option(help="Match rules (YAML).")] = DEFAULT_RULES,
    access_log: Annotated[
        bool,
        typer.Option(
            help="uvicorn's log of every request, to the console: it writes each URL with "
            "its query string, so a steward's searches (names, emails) are in it. For a log "
            "to keep, use --audit-log. Costs throughput."
        ),
    ] = False,
    audit_log: Annotated[
        Path | None,
        typer.Option(
            help="Append one JSON line per API and page call to this file: the key or "
            "steward, the route and the ids in it, how it ended (refusals too); never "
            "search terms or bodies."
        ),
    ] = None,
    job_folder: Annotated[
        Path | None,
        typer.Option(help="A folder whose files jobs may name by path (default: uploads only)."),
    ] = None,
) -> None:
    """Start the HTTP service on a store (this process owns the file); docs at /docs,
    steward pages at /ui/."""
    import os

    import uvicorn

    from mdm.store import open_store

    try:  # a store another process owns, or on read-only storage: a message, not a trace
        open_store(db).close()
    except MdmError as error:
        raise _fail(error) from None
    os.environ["MDM_DB"] = str(db)
    os.environ["MDM_RULES"] = str(rules)
    if job_folder is not None:
        os.environ["MDM_JOB_FOLDER"] = str(job_folder)
    if audit_log is not None:
        os.environ["MDM_AUDIT_LOG"] = str(audit_log)
    # uvicorn imports the app by name: the engine does not import the service.
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, access_log=access_log)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
