"""Bulk reconciliation: source files in, golden records and cross-references out.

The run reads and checks every source before it touches the store, does its work in
an in-memory DuckDB, and writes the results to the store in one transaction, so a
failure leaves the store as it was.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from mdm.clusters import (
    best_expected_f1_threshold,
    choose_link_threshold,
    cluster_constrained,
    probability_to_weight,
    weight_to_probability,
)
from mdm.constraints import constraint_edges
from mdm.errors import DuplicateRecordError, InputError
from mdm.ingest import (
    MappedSource,
    SourceSpec,
    SourceSummary,
    map_source,
    map_source_chunks,
    repeated_ids_message,
)
from mdm.linkage.cohesion import unscored_pairs_within
from mdm.linkage.features import add_features
from mdm.linkage.model import (
    TrainedModel,
    add_block_keys,
    estimate_prior,
    pair_levels,
    predict_pairs,
    train_model,
)
from mdm.names.reference import build_variant_groups
from mdm.names.store import active_pairs, count_names_sql, term_frequency_sql
from mdm.placeholders import blank_placeholders_sql
from mdm.progress import Detail, Progress, SilentProgress
from mdm.rules.bundle import RulesBundle
from mdm.rules.match import MatchRules, fit_rules_to_data
from mdm.rules.sources import find_source_mapping
from mdm.schema import RECORD_COLUMNS
from mdm.spark import Backend
from mdm.sql import one
from mdm.standardise.dates import choose_day_month_order
from mdm.standardise.frame import (
    StandardiseOptions,
    StandardiseReport,
    decide_locale,
    standardise_frame,
)
from mdm.standardise.locale import SourceLocale
from mdm.standardise.text import clean_text
from mdm.store import attach_store
from mdm.store.writer import RunOutput, load_model, write_run
from mdm.threshold import ThresholdChoice, check_link_threshold

REVIEW_BAND_WEIGHT = 4.0

#: DuckDB's working-memory limit for a run; beyond it, intermediate results spill to disk
#: (``MDM_DUCKDB_MEMORY_LIMIT`` overrides it).
DUCKDB_MEMORY_LIMIT = os.environ.get("MDM_DUCKDB_MEMORY_LIMIT", "1.5GB")
#: What writing the store needs on top, per record: its primary-key indexes cannot spill
#: to disk (the 10M run ran out of memory writing the cross-reference at 1.5 GB, then
#: the golden records at 4.0 GB with 300 bytes a record).
WRITE_BYTES_PER_RECORD = 1000


def write_memory_limit(records: int) -> str:
    """The memory limit for the write stage: the run's limit plus the store's indexes."""
    extra_mb = records * WRITE_BYTES_PER_RECORD // 2**20
    return f"{_megabytes(DUCKDB_MEMORY_LIMIT) + extra_mb}MB"


def _megabytes(limit: str) -> int:
    text = limit.strip().upper().replace("IB", "B")
    for unit, factor in (("TB", 2**20), ("GB", 2**10), ("MB", 1), ("KB", 2**-10)):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(float(text) / 2**20)  # bytes


@dataclass
class ReconcileResult:
    """What a reconciliation run did, for the CLI and the API to show."""

    run_id: int
    db: Path
    records: int
    sources: list[SourceSummary]
    golden_records: int
    multi_record_golden: int
    review_tasks: int
    candidate_pairs: int
    link_threshold: float
    review_threshold: float
    model_id: str
    model_trained: bool
    placeholders: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    #: The model's prior and how it was estimated (see :mod:`mdm.linkage.prior`).
    prior: dict[str, object] = field(default_factory=dict)
    #: How the link threshold was chosen (see :mod:`mdm.threshold`).
    threshold: dict[str, object] = field(default_factory=dict)
    #: What the run says about its prior and threshold, a sentence each.
    notes: list[str] = field(default_factory=list)


def _check_names(specs: Sequence[SourceSpec]) -> None:
    names = [spec.name for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"source name(s) {repeated} given twice; name them NAME=PATH")


def read_sources(specs: Sequence[SourceSpec], rules_dir: Path) -> list[MappedSource]:
    """Read and map every source; any problem stops the run before anything is written."""
    _check_names(specs)
    return [map_source(spec, find_source_mapping(rules_dir, spec.name)) for spec in specs]


def standardise_chunk(
    source: MappedSource,
    order: str,
    locale: SourceLocale | None = None,
    date_reason: str = "configured",
) -> tuple[pd.DataFrame, StandardiseReport]:
    """Standardise a source's records (a chunk of them), with extras and raw values as
    JSON: the records, and the report (date order, locale, values that could not be read)."""
    options = StandardiseOptions(
        default_region=source.options.default_region,
        date_order=order,
        date_reason=date_reason,
        locale=locale,
    )
    clean, report = standardise_frame(source.frame, options)
    clean["source"] = source.name
    clean["record_id"] = source.frame["record_id"]
    clean["updated_at"] = source.frame.get("updated_at")
    clean["extra"] = _json_lines(source.extras)
    clean["raw"] = _json_lines(source.raw)
    return clean, report


def _date_order(
    spec: SourceSpec, mapping, first: MappedSource, single: bool, country: str | None
) -> tuple[str, str]:
    """The day/month order of a source's dates and why. An order set in its mapping
    stands; otherwise it is read from every distinct date in the file (a first pass over
    the file when it is longer than one chunk), as if the file were read whole, the
    source's ``country`` breaking a tie."""
    order = first.options.date_order
    if order != "auto" or single or "date_of_birth" not in first.frame:
        return order, "configured"
    seen: set[str] = set()
    for chunk in map_source_chunks(spec, mapping):
        seen.update(chunk.frame["date_of_birth"].dropna().unique())
    values = pd.unique(pd.Series(sorted(seen), dtype=object))
    evidence, reason = choose_day_month_order(values, country)
    return evidence.order, reason


def _source_locale(first: MappedSource) -> SourceLocale:
    """The locale of a source, from its mapping or the values of its first chunk."""
    return decide_locale(first.frame, first.options.default_region)


def load_sources(
    con: duckdb.DuckDBPyConnection,
    specs: Sequence[SourceSpec],
    rules_dir: Path,
    groups,
    table: str,
    seconds: dict[str, float],
    progress: Progress | None = None,
) -> list[SourceSummary]:
    """Read, map and standardise every source into DuckDB table ``table`` a chunk at a
    time (:data:`mdm.ingest.CHUNK_ROWS` records), with their derived keys: memory holds
    one chunk, never a whole file. Record ids repeated within a source stop the run.
    How each source's columns were mapped is reported to ``progress``."""
    _check_names(specs)
    progress = progress or SilentProgress()
    summaries = []
    for spec in specs:
        clock = time.perf_counter()
        mapping = find_source_mapping(rules_dir, spec.name)
        chunks = map_source_chunks(spec, mapping)
        first = next(chunks)
        progress.stage("read", f"{spec.name}: {first.columns.describe()}")
        second = next(chunks, None)
        locale = _source_locale(first)
        order, date_reason = _date_order(spec, mapping, first, second is None, locale.country)
        summary = SourceSummary(spec.name, str(spec.path), 0, order, {})
        bad = summary.unparseable
        records = 0
        decided = order
        pending = [first] if second is None else [first, second]
        seconds["read"] += time.perf_counter() - clock
        for chunk in itertools.chain(pending, chunks):
            clock = time.perf_counter()
            clean, report = standardise_chunk(chunk, order, locale, date_reason)
            decided = report.date_order  # "auto" only for a file of one chunk
            for column, count in report.unparseable.items():
                bad[column] = bad.get(column, 0) + count
            _add_locale(summary, report)
            clean = add_features(clean, groups)
            con.register("chunk_frame", clean)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM chunk_frame").fetchall()
            con.unregister("chunk_frame")
            records += len(clean)
            del clean
            seconds["standardise"] += time.perf_counter() - clock
        _check_unique_across_chunks(con, table, spec)
        summary.records, summary.date_order = records, decided
        summary.mapped, summary.unused = first.columns.rows(), list(first.columns.unused)
        summaries.append(summary)
    return summaries


def _add_locale(summary: SourceSummary, report: StandardiseReport) -> None:
    """Add a chunk's locale report to its source's summary."""
    summary.locale = {name: asdict(choice) for name, choice in report.locale.items()}
    for country, count in report.own_country.items():
        summary.own_country[country] = summary.own_country.get(country, 0) + count
    summary.local_only += report.local_only


def _check_unique_across_chunks(
    con: duckdb.DuckDBPyConnection, table: str, spec: SourceSpec
) -> None:
    repeated = con.execute(
        f"SELECT record_id FROM {table} WHERE source = ? GROUP BY record_id "
        "HAVING count(*) > 1 ORDER BY record_id",
        [spec.name],
    ).fetchall()
    if repeated:
        examples = [row[0] for row in repeated[:5]]
        raise DuplicateRecordError(repeated_ids_message(spec, len(repeated), examples))


def _json_lines(frame: pd.DataFrame) -> pd.Series:
    """Each row as a JSON object (column -> text or null), computed by DuckDB."""
    if frame.shape[1] == 0:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    fields = ", ".join(
        f'"{c}" := "{c}"' for c in (str(name).replace('"', '""') for name in frame.columns)
    )
    with duckdb.connect() as con:
        con.register("frame", frame.reset_index(drop=True).assign(_row=np.arange(len(frame))))
        text = con.execute(
            f"SELECT to_json(struct_pack({fields}))::VARCHAR FROM frame ORDER BY _row"
        ).fetchnumpy()
    values = next(iter(text.values()))
    return pd.Series(np.asarray(values, dtype=object), index=frame.index, dtype=object)


def add_extra_columns(work: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Materialise the extra attributes the rules compare, cleaned like free text."""
    if not names:
        return work
    parsed = pd.DataFrame([json.loads(e) if e else {} for e in work["extra"]], index=work.index)
    work = work.copy()
    for name in names:
        values = parsed[name] if name in parsed else pd.Series(None, index=work.index)
        work[name] = values.map(clean_text, na_action="ignore").astype(object)
        work[name] = work[name].where(work[name].notna(), None)
    return work


def active_pairs_in_store(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The store's active name variants (seeded from reference_names/, then grown)."""
    con.execute("USE store").fetchall()
    try:
        return active_pairs(con)
    finally:
        con.execute("USE memory").fetchall()


def reconcile(
    specs: Sequence[SourceSpec],
    db: Path,
    rules: RulesBundle,
    *,
    retrain: bool = False,
    progress: Progress | None = None,
    backend: Backend | None = None,
) -> ReconcileResult:
    """Reconcile the given sources with everything already in the store at ``db``.

    ``backend`` says where candidate pairs are scored (DuckDB in process by default, or
    Spark); everything else runs here either way.
    """
    progress = progress or SilentProgress()
    backend = backend or Backend()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 2)
        clock = now

    con = None
    spill = tempfile.TemporaryDirectory(prefix="mdm-run-")
    new_store = not db.exists()
    try:
        # The run's tables live in a DuckDB file of their own (its catalog is "memory"):
        # past the memory limit they stay on disk, so memory does not grow with the run.
        con = duckdb.connect(str(Path(spill.name) / "memory.duckdb"))
        con.execute("SET enable_progress_bar = false").fetchall()
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'").fetchall()
        con.execute("SET temp_directory = ?", [spill.name]).fetchall()
        attach_store(con, db)
        groups = build_variant_groups(active_pairs_in_store(con))
        columns = ", ".join([*RECORD_COLUMNS, "extra", "raw"])
        con.execute(
            f"CREATE TABLE memory.incoming AS SELECT {columns} FROM store.records LIMIT 0"
        ).fetchall()
        progress.stage("read", f"{len(specs)} source(s)")
        seconds.update(read=0.0, standardise=0.0)
        summaries = load_sources(
            con, specs, rules.rules_dir, groups, "memory.incoming", seconds, progress
        )
        seconds.update(read=round(seconds["read"], 2), standardise=round(seconds["standardise"], 2))
        standardised = sum(s.records for s in summaries)
        progress.stage("standardise", Detail(f"{standardised} records", records=standardised))
        suppressed = _suppress_erased(con)
        clock = time.perf_counter()
        progress.stage("prepare", "loading the store and blocking keys")
        con.execute(
            f"INSERT INTO memory.incoming BY NAME SELECT {columns} FROM store.records "
            "WHERE NOT list_contains(?, source)",
            [[s.name for s in summaries]],
        ).fetchall()
        placeholders = blank_placeholders_sql(con, "memory.incoming")
        add_extra_columns_sql(con, "memory.incoming", rules.match.extra_columns)
        present = present_columns(con, "memory.incoming")
        rules = replace(rules, match=fit_rules_to_data(rules.match, present))
        model = None if retrain else load_model(con, rules.match.fingerprint())
        records = number_work_tables(con, "memory.incoming", rules.match)
        lap("prepare")
        output = _link(con, records, rules, model, progress, lap, backend)
        progress.stage("write", f"{output.golden_count} golden records")
        con.execute(f"SET memory_limit = '{write_memory_limit(records)}'").fetchall()
        run_id = write_run(con, output, rules, summaries, placeholders, seconds)
        lap("write")
    except BaseException:
        if new_store:  # a failed first run leaves no store behind
            if con is not None:
                con.close()
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise
    finally:
        if con is not None:
            con.close()
        spill.cleanup()
    return ReconcileResult(
        run_id=run_id,
        db=db,
        records=records,
        sources=summaries,
        golden_records=output.golden_count,
        multi_record_golden=output.multi_record_golden,
        review_tasks=output.review_tasks,
        candidate_pairs=output.candidate_pairs,
        link_threshold=output.link_threshold,
        review_threshold=output.review_threshold,
        model_id=output.model.model_id,
        model_trained=output.model_trained,
        placeholders=placeholders,
        seconds=seconds,
        prior=output.model.training.get("prior", {}),
        threshold=output.threshold.as_dict() if output.threshold else {},
        notes=run_notes(output.model, output.model_trained, output.threshold)
        + (
            [
                f"{suppressed} record(s) left out: they were erased (mdm erase), and an erased "
                "record is not taken again"
            ]
            if suppressed
            else []
        ),  # fmt: skip
    )


def _suppress_erased(con: duckdb.DuckDBPyConnection) -> int:
    """Drop from ``memory.incoming`` the records erased before (their tombstones are in
    the store): a source extract that still holds an erased person does not bring them
    back. How many."""
    gone = con.execute(
        "DELETE FROM memory.incoming WHERE sha256(source || chr(31) || record_id) IN "
        "(SELECT key_hash FROM store.erasures) RETURNING 1"
    ).fetchall()
    return len(gone)


def run_notes(model: TrainedModel, trained: bool, threshold: ThresholdChoice | None) -> list[str]:
    """What a run says about its prior and its link threshold."""
    prior = model.training.get("prior", {})
    how = prior.get("reason", "the deterministic rules' estimate")
    notes = [f"prior {model.prior:.3g}{'' if trained else ' (model reused)'}: {how}"]
    if threshold is not None:
        notes += [f"link threshold: {note}" for note in threshold.notes]
    return notes


def _thresholds(
    rules: MatchRules, left: np.ndarray, right: np.ndarray, probability: np.ndarray, n: int
) -> tuple[float, float, ThresholdChoice]:
    """The link threshold and the bottom of the review band, as match probabilities,
    and how the link threshold was chosen."""
    t = rules.thresholds
    if t.link == "auto":
        model = choose_link_threshold(probability, t.link_floor, t.link_ceiling)
        best = best_expected_f1_threshold(probability)
        if t.max_chain_ratio is None:
            choice = ThresholdChoice(model, model, best is None or best < t.link_floor,
                                     model >= t.link_ceiling)  # fmt: skip
        else:
            choice = check_link_threshold(
                n, left, right, probability, model, t.link_floor, t.link_ceiling,
                t.max_chain_ratio, best,
            )  # fmt: skip
        link = choice.link
    else:
        link = float(t.link)
        choice = ThresholdChoice(link, link, False, False, notes=["configured in the rules"])
    if t.review == "auto":
        review = weight_to_probability(probability_to_weight(link) - REVIEW_BAND_WEIGHT)
    else:
        review = min(float(t.review), link)
    return link, review, choice


def identity_conflicts(
    pairs: pd.DataFrame, model: TrainedModel, rules: MatchRules
) -> tuple[np.ndarray, np.ndarray]:
    """(cannot-link, not-a-link): pairs whose identity comparisons disagree.

    A pair disagrees when every identity comparison present for it (not missing on
    either side) is at a level with negative match weight. The model's m
    probabilities say how often true matches disagree like that (the product over
    the present comparisons): at most ``identity_conflict_max_share`` makes the pair
    a cannot-link; at most ``identity_veto_max_share`` only keeps this pair from
    linking the two records directly. See :class:`mdm.rules.match.Clustering`.
    """
    clustering = rules.clustering
    none = np.zeros(len(pairs), dtype=bool)
    if not clustering.identity:
        return none, none
    present = np.zeros(len(pairs), dtype=int)
    agree = np.zeros(len(pairs), dtype=bool)
    share = np.ones(len(pairs))
    for name in clustering.identity:
        levels = model.levels(name)
        negative = [gamma for gamma, (weight, _) in levels.items() if gamma >= 0 and weight < 0]
        m_negative = sum(levels[gamma][1] for gamma in negative)
        gamma = pairs[f"gamma_{name}"].to_numpy()
        known = gamma >= 0
        present += known
        agree |= known & ~np.isin(gamma, negative)
        share = np.where(known, share * m_negative, share)
    disagree = (present > 0) & ~agree
    cannot = disagree & (share <= clustering.identity_conflict_max_share)
    veto = disagree & ~cannot & (share <= clustering.identity_veto_max_share)
    return cannot, veto


def _incoherent_pairs(
    con: duckdb.DuckDBPyConnection,
    model: TrainedModel,
    labels: np.ndarray,
    tf_tables: dict[str, str],
    rules: MatchRules,
) -> np.ndarray:
    """The pairs inside clusters that no blocking rule compared and that must not be in
    one cluster (n x 2 uids): a clear non-match (below ``split_below``) that the model
    says one person's records seldom look like, on an identity comparison (see
    :func:`identity_contradictions`, :func:`identity_conflicts`). A pair that is
    unlikely only because its records say little (missing values) stays: no blocking
    rule compared it because it agrees on little, not because it disagrees. See
    :mod:`mdm.linkage.cohesion`."""
    clustering = rules.clustering
    unscored = unscored_pairs_within(
        con, "memory.work", model, labels, "memory.scored", tf_tables, clustering.cohere_max_size
    )
    if unscored.empty:
        return np.empty((0, 2), dtype=np.int64)
    if not clustering.identity:
        return np.empty((0, 2), dtype=np.int64)
    con.register("cohesion_pairs", unscored[["uid_l", "uid_r"]])
    levels = pair_levels(con, "work", model, "cohesion_pairs", tuple(clustering.identity))
    con.unregister("cohesion_pairs")
    levels = unscored[["uid_l", "uid_r"]].merge(levels, on=["uid_l", "uid_r"], how="left")
    conflict, _ = identity_conflicts(levels, model, rules)
    unlikely = unscored["match_probability"].to_numpy() < clustering.split_below
    clear = unlikely & (conflict | identity_contradictions(levels, model, rules))
    return unscored.loc[clear, ["uid_l", "uid_r"]].to_numpy(dtype=np.int64)


def identity_contradictions(
    pairs: pd.DataFrame, model: TrainedModel, rules: MatchRules
) -> np.ndarray:
    """Pairs with an identity comparison at a level true matches seldom reach: a
    negative-weight level of a comparison whose negative levels together hold at most
    ``identity_veto_max_share`` of true matches (by the model's m). Birth dates years
    apart, where the model says one person's records rarely differ so. A comparison
    the data often garbles (the model's m says so) contradicts nothing."""
    clustering = rules.clustering
    found = np.zeros(len(pairs), dtype=bool)
    for name in clustering.identity:
        levels = model.levels(name)
        negative = [gamma for gamma, (weight, _) in levels.items() if gamma >= 0 and weight < 0]
        if sum(levels[gamma][1] for gamma in negative) <= clustering.identity_veto_max_share:
            found |= np.isin(pairs[f"gamma_{name}"].to_numpy(), negative)
    return found


def load_work_table(con: duckdb.DuckDBPyConnection, work: pd.DataFrame, rules: MatchRules) -> int:
    """Copy the run's records into in-memory tables: ``work`` (what linkage reads, with
    blocking keys) and ``payload`` (extra attributes and raw values, for the writer)."""
    extras = [c for c in rules.extra_columns if c in work.columns]
    columns = [c for c in RECORD_COLUMNS if c in work.columns] + extras
    con.register("work_frame", work[["uid", *columns]])
    con.execute("CREATE OR REPLACE TABLE memory.work AS SELECT * FROM work_frame").fetchall()
    con.unregister("work_frame")
    con.register("payload_frame", work[["uid", "extra", "raw"]])
    con.execute("CREATE OR REPLACE TABLE memory.payload AS SELECT * FROM payload_frame").fetchall()
    con.unregister("payload_frame")
    add_block_keys(con, "work", rules)
    return len(work)


def add_extra_columns_sql(con: duckdb.DuckDBPyConnection, table: str, names: Sequence[str]) -> None:
    """:func:`add_extra_columns` for a DuckDB table, in place."""
    if not names:
        return
    con.create_function("mdm_clean_text", clean_text, ["VARCHAR"], "VARCHAR", side_effects=False)
    try:
        for name in names:
            quoted, key = name.replace('"', '""'), name.replace('"', '\\"')
            con.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{quoted}" VARCHAR')
            con.execute(
                f'UPDATE {table} SET "{quoted}" = mdm_clean_text(json_extract_string(extra, ?))',
                [f'$."{key}"'],
            ).fetchall()
    finally:
        con.remove_function("mdm_clean_text")


def present_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The columns of ``table`` that hold a value in at least one row."""
    names = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    counts = con.execute(
        "SELECT " + ", ".join(f'count("{n}")' for n in names) + f" FROM {table}"
    ).fetchall()[0]
    return {name for name, count in zip(names, counts, strict=True) if count}


def number_work_tables(con: duckdb.DuckDBPyConnection, table: str, rules: MatchRules) -> int:
    """:func:`load_work_table` from a DuckDB table: records numbered (``uid``) in
    (source, record_id) order into ``work`` and ``payload``; ``table`` is dropped."""
    names = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    extras = [c for c in rules.extra_columns if c in names]
    columns = ", ".join(f'"{c}"' for c in [*RECORD_COLUMNS, *extras])
    con.execute(
        "CREATE OR REPLACE TABLE memory.numbered AS SELECT row_number() OVER "
        f"(ORDER BY source, record_id) - 1 AS uid, * FROM {table}"
    ).fetchall()
    con.execute(f"DROP TABLE {table}").fetchall()
    con.execute(
        f"CREATE OR REPLACE TABLE memory.work AS SELECT uid, {columns} FROM memory.numbered "
        "ORDER BY uid"
    ).fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE memory.payload AS SELECT uid, extra, raw FROM memory.numbered "
        "ORDER BY uid"
    ).fetchall()
    con.execute("DROP TABLE memory.numbered").fetchall()
    add_block_keys(con, "work", rules)
    return int(con.execute("SELECT count(*) FROM memory.work").fetchall()[0][0])


def name_term_frequencies(con: duckdb.DuckDBPyConnection, model: TrainedModel) -> dict[str, str]:
    """Count first and last names over the run's records (what the store holds once the
    run is written: ``memory.name_counts``, which the writer stores as the live frequency
    table) and make from it the term-frequency lookups the model's name levels read."""
    columns = {row[0] for row in con.execute("DESCRIBE memory.work").fetchall()}
    counts = count_names_sql("memory.work", columns)
    one(con.execute(f"CREATE OR REPLACE TABLE memory.name_counts AS {counts}"))
    tables = {}
    for column in model.tf_columns:
        sql = term_frequency_sql(column, "memory.name_counts")
        if sql is not None:
            one(con.execute(f"CREATE OR REPLACE TABLE memory.tf_{column} AS {sql}"))
            tables[column] = f"memory.tf_{column}"
    return tables


def _link(
    con: duckdb.DuckDBPyConnection,
    records: int,
    rules: RulesBundle,
    model: TrainedModel | None,
    progress: Progress,
    lap,
    backend: Backend,
) -> RunOutput:
    """Train (if needed), score and cluster the ``records`` rows of table ``work``;
    leaves table ``scored`` in the connection's in-memory catalog for the writer."""
    trained = model is None
    if model is None:
        progress.stage("train", "estimating m and u (EM, no labels)")
        model = train_model(con, "work", rules.match, records)
    lap("train")
    tf_tables = name_term_frequencies(con, model)
    if backend.kind == "spark":
        from mdm.spark import predict_pairs_spark

        progress.stage("predict", f"scoring candidate pairs on Spark ({backend.spark_master})")
        predict_pairs_spark(con, "work", model, "memory.scored", tf_tables, backend)
    else:
        progress.stage("predict", "scoring candidate pairs")

        def on_slice(done: int, slices: int) -> None:
            if slices > 1 and done < slices:
                progress.stage(
                    "predict",
                    Detail(
                        f"scoring candidate pairs: slice {done} of {slices} done",
                        done=done,
                        total=slices,
                    ),
                )

        predict_pairs(con, "work", model, "scored", tf_tables, on_slice)
    if trained:
        progress.stage("predict", "estimating the prior over the scored pairs")
        model = estimate_prior(con, "memory.scored", model, records)
    # Only what clustering needs, as arrays (the writer reads the scores from the table).
    scored = con.execute("SELECT uid_l, uid_r, match_probability FROM memory.scored").fetchnumpy()
    left, right = scored["uid_l"], scored["uid_r"]
    probability = scored["match_probability"]
    del scored
    lap("predict")
    progress.stage("cluster", f"{len(left)} candidate pairs")
    link, review, choice = _thresholds(rules.match, left, right, probability, records)
    cannot = np.empty((0, 2), dtype=np.int64)
    if rules.match.clustering.guard:
        low = probability < rules.match.clustering.split_below
        cannot = np.column_stack([left[low], right[low]])
    # A steward's merges, unmerges and decisions outrank every score.
    steward = constraint_edges(con, "memory.work")
    must, steward_cannot = (np.asarray(steward[k], dtype=np.int64) for k in ("must", "cannot"))

    def cluster(n, left, right, probability, link, cannot):
        return cluster_constrained(n, left, right, probability, link, cannot, must, steward_cannot)

    labels = cluster(records, left, right, probability, link, cannot)
    if rules.match.clustering.guard and rules.match.clustering.identity:
        # Only pairs inside a cluster can be split apart, so levels are needed for them alone.
        within = labels[left] == labels[right]
        inside = pd.DataFrame({"uid_l": left[within], "uid_r": right[within]})
        con.register("inside_pairs", inside)
        levels = pair_levels(
            con, "work", model, "inside_pairs", tuple(rules.match.clustering.identity)
        )
        con.unregister("inside_pairs")
        conflict, veto = identity_conflicts(levels, model, rules.match)
        split = levels[conflict]
        cannot = np.vstack([cannot, split[["uid_l", "uid_r"]].to_numpy(dtype=np.int64)])
        if veto.any():  # these pairs alone do not link their records
            vetoed = pd.MultiIndex.from_frame(levels.loc[veto, ["uid_l", "uid_r"]])
            keys = pd.MultiIndex.from_arrays([left, right])
            probability = np.where(keys.isin(vetoed), 0.0, probability)
        labels = cluster(records, left, right, probability, link, cannot)
    if rules.match.clustering.guard and rules.match.clustering.cohere_max_size:
        split = _incoherent_pairs(con, model, labels, tf_tables, rules.match)
        if len(split):
            cannot = np.vstack([cannot, split])
            labels = cluster(records, left, right, probability, link, cannot)
    lap("cluster")
    output = RunOutput.build(left, right, probability, labels, link, review, model, trained)
    output.threshold = choice
    return output
