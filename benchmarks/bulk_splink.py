"""Plain splink 5 dedupe of generated multi-source data: the reference for bulk.py and
for the generated rows of robustness.py.

Usage: python benchmarks/bulk_splink.py DATA_DIR OUT_JSON

Maps each source onto the schema with the same mapping files mdm uses, lowercases
the text, and runs a plain splink model written from splink's documentation, nothing
tuned to the data:

* comparisons from splink's comparison library for person columns, as its API docs
  (``api_docs/comparison_library``) and the examples use them: ``NameComparison``
  for first and last name and ``ExactMatch`` for the city, with term-frequency
  adjustments; ``DateOfBirthComparison``; ``EmailComparison``; ``PostcodeComparison``;
  ``ExactMatch`` for the phone;
* blocking on exact pairs of those columns, and training in the steps of the
  ``deduplicate_50k_synthetic`` example (docs/demos/examples/duckdb): the prior from
  deterministic rules (first + last name + birth date, email) at recall 0.7, u by
  random sampling (1e7 pairs, fixed seed), expectation maximisation blocked on the
  birth date and on first + last name; clusters at match probability 0.95 as that
  example does.

A column no source holds (a names + birth date file, say) gets no comparison, no
blocking rule and no training rule: what a splink user would write for that file. The
prior then uses first + last name + postcode (or phone) when neither deterministic rule
above is usable, and the first EM session is blocked on the first of birth date,
postcode, email and phone the data has.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import splink.comparison_library as cl  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402

from mdm.bulk.ingest import SourceSpec, map_source  # noqa: E402
from mdm.evaluation import bcubed_metrics, blocking_recall, pairwise_metrics  # noqa: E402
from mdm.rules.sources import find_source_mapping  # noqa: E402

COLUMNS = ["first_name", "last_name", "date_of_birth", "email", "phone", "postcode", "city"]
SAMPLE_MAPPINGS = REPO / "mdm/data/sample"
CLUSTER_THRESHOLD = 0.95

#: Column -> its comparison; a column absent from the data gets none.
_COMPARISONS = {
    "first_name": lambda: cl.NameComparison("first_name").configure(
        term_frequency_adjustments=True
    ),
    "last_name": lambda: cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
    "date_of_birth": lambda: cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
    "email": lambda: cl.EmailComparison("email"),
    "phone": lambda: cl.ExactMatch("phone"),
    "postcode": lambda: cl.PostcodeComparison("postcode"),
    "city": lambda: cl.ExactMatch("city").configure(term_frequency_adjustments=True),
}
_BLOCKING = [
    ("first_name", "last_name"),
    ("last_name", "date_of_birth"),
    ("first_name", "date_of_birth"),
    ("postcode", "last_name"),
    ("email",),
    ("phone",),
]
_PRIOR_RULES = [("first_name", "last_name", "date_of_birth"), ("email",)]
#: Deterministic rules for the prior when the data has none of the columns above.
_PRIOR_FALLBACK = [("first_name", "last_name", "postcode"), ("first_name", "last_name", "phone")]
#: EM is blocked on the first of these the data has, then on first + last name.
_EM_FIRST = [("date_of_birth",), ("postcode",), ("email",), ("phone",)]
_EM_NAMES = ("first_name", "last_name")


def _usable(rules: list[tuple[str, ...]], present: set[str]) -> list[tuple[str, ...]]:
    return [keys for keys in rules if set(keys) <= present]


def load(
    data_dir: Path, mappings_dir: Path | None = None, truth: str = "true_person_id"
) -> pd.DataFrame:
    """The sources of ``data_dir`` in one frame of lowercased schema columns, with a
    ``unique_id`` (source:record id) and the ``truth`` column (the generator's by
    default) as ``truth``; mappings from ``mappings_dir/sources/`` (default: the bundled
    sample's)."""
    frames = []
    for path in sorted(data_dir.iterdir()):
        if path.suffix not in (".csv", ".parquet", ".jsonl", ".xlsx"):
            continue
        mapping = find_source_mapping(mappings_dir or SAMPLE_MAPPINGS, path.stem)
        mapped = map_source(SourceSpec(path.stem, path), mapping)
        frame = pd.DataFrame(index=mapped.frame.index)
        for column in COLUMNS:
            values = mapped.frame.get(column)
            frame[column] = values.str.lower().str.strip() if values is not None else None
        if "full_name" in mapped.frame and mapped.frame.get("first_name") is None:
            parts = mapped.frame["full_name"].str.lower().str.replace(",", " ").str.split()
            frame["first_name"] = parts.str[0]
            frame["last_name"] = parts.str[-1]
        frame["truth"] = mapped.extras[truth].to_numpy()
        frame["unique_id"] = path.stem + ":" + mapped.frame["record_id"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def settings_for(present: set[str]) -> SettingsCreator:
    """The plain model's settings for the columns ``present`` in the data."""
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[make() for column, make in _COMPARISONS.items() if column in present],
        blocking_rules_to_generate_predictions=[
            block_on(*keys) for keys in _BLOCKING if set(keys) <= present
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run_plain_splink(frame: pd.DataFrame, *, all_pairs: bool = False) -> dict:
    """Train, predict and cluster the plain model on ``frame`` (from :func:`load`); score.

    With ``all_pairs`` every blocked pair is predicted (not only those above 0.2), so
    that ``pairs`` counts them all and blocking recall can be measured; the clusters are
    the same either way.
    """
    started = time.perf_counter()
    present = {c for c in COLUMNS if frame[c].notna().any()}
    db_api = DuckDBAPI()
    linker = Linker(
        db_api.register(frame.drop(columns=["truth"])),
        settings_for(present),
        log_level=logging.ERROR,
    )
    prior = _usable(_PRIOR_RULES, present) or _usable(_PRIOR_FALLBACK, present)
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*keys) for keys in prior], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    for keys in [*_usable(_EM_FIRST, present)[:1], _EM_NAMES]:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*keys))
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=None if all_pairs else 0.2)
    pair_ids = None
    if all_pairs:
        pair_ids = predictions.query_sql(
            "select unique_id_l as id_l, unique_id_r as id_r from {this}"
        ).as_pandas_dataframe()
        pairs = len(pair_ids)
    else:
        pairs = int(
            linker.misc.query_sql(
                f"SELECT count(*) AS n FROM {predictions.physical_name}", output_type="pandas"
            )["n"][0]
        )
    predicted = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=CLUSTER_THRESHOLD
    ).as_pandas_dataframe()
    done = time.perf_counter()
    labels = clusters.set_index("unique_id")["cluster_id"].reindex(frame["unique_id"]).to_numpy()
    truth = frame["truth"].to_numpy()
    pairwise = pairwise_metrics(labels, truth)
    bcubed = bcubed_metrics(labels, truth)
    result = {
        "records": len(frame),
        "seconds": {
            "train": round(trained - started, 2),
            "predict": round(predicted - trained, 2),
            "cluster": round(done - predicted, 2),
            "total": round(done - started, 2),
        },
        "pairs": pairs,
        "pairwise": {"precision": pairwise.precision, "recall": pairwise.recall, "f1": pairwise.f1},
        "bcubed": {"precision": bcubed.precision, "recall": bcubed.recall, "f1": bcubed.f1},
        "largest_cluster": int(pd.Series(labels).value_counts().max()) if len(labels) else 0,
    }
    if pair_ids is not None:
        result["blocking_recall"] = blocking_recall(pair_ids, frame["unique_id"], truth).recall
    return result


def main() -> None:
    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    started = time.perf_counter()
    # Generated sets of another locale carry their own mappings (python -m mdm.generate
    # --locale us writes them to sources/).
    frame = load(data_dir, data_dir if (data_dir / "sources").is_dir() else None)
    read = time.perf_counter() - started
    result = run_plain_splink(frame)
    result["seconds"] = {"read": round(read, 2), **result["seconds"]}
    result["seconds"]["total"] = round(time.perf_counter() - started, 2)
    result["bcubed_f1"] = result["bcubed"]["f1"]  # the figure bulk.py reads
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
