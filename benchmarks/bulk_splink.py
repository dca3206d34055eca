"""Plain splink 5 dedupe of generated multi-source data: the reference for bulk.py.

Usage: python benchmarks/bulk_splink.py DATA_DIR OUT_JSON

Maps each source onto the schema with the same mapping files mdm uses, lowercases
the text, and runs splink with its own comparison library and blocking as its
documentation shows for person data; clusters at 0.95 like the docs' examples.
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

from mdm.evaluation import bcubed_metrics, pairwise_metrics  # noqa: E402
from mdm.ingest import SourceSpec, map_source  # noqa: E402
from mdm.rules.sources import find_source_mapping  # noqa: E402

COLUMNS = ["first_name", "last_name", "date_of_birth", "email", "phone", "postcode", "city"]


def load(data_dir: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(data_dir.iterdir()):
        if path.suffix not in (".csv", ".parquet", ".jsonl", ".xlsx"):
            continue
        mapped = map_source(
            SourceSpec(path.stem, path), find_source_mapping(REPO / "mdm/data/sample", path.stem)
        )
        frame = pd.DataFrame(index=mapped.frame.index)
        for column in COLUMNS:
            values = mapped.frame.get(column)
            frame[column] = values.str.lower().str.strip() if values is not None else None
        if "full_name" in mapped.frame and mapped.frame.get("first_name") is None:
            parts = mapped.frame["full_name"].str.lower().str.replace(",", " ").str.split()
            frame["first_name"] = parts.str[0]
            frame["last_name"] = parts.str[-1]
        frame["truth"] = mapped.extras["true_person_id"].to_numpy()
        frame["unique_id"] = path.stem + ":" + mapped.frame["record_id"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    started = time.perf_counter()
    frame = load(data_dir)
    read = time.perf_counter() - started
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            block_on("last_name", "date_of_birth"),
            block_on("first_name", "date_of_birth"),
            block_on("postcode", "last_name"),
            block_on("email"),
            block_on("phone"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(
        db_api.register(frame.drop(columns=["truth"])), settings, log_level=logging.ERROR
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "date_of_birth"), block_on("email")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name")
    )
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    pairs = int(
        linker.misc.query_sql(
            f"SELECT count(*) AS n FROM {predictions.physical_name}", output_type="pandas"
        )["n"][0]
    )
    predicted = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.95
    ).as_pandas_dataframe()
    done = time.perf_counter()
    labels = clusters.set_index("unique_id")["cluster_id"].reindex(frame["unique_id"]).to_numpy()
    pairwise = pairwise_metrics(labels, frame["truth"].to_numpy())
    bcubed = bcubed_metrics(labels, frame["truth"].to_numpy())
    out.write_text(
        json.dumps(
            {
                "records": len(frame),
                "seconds": {
                    "read": round(read, 2),
                    "train": round(trained - started - read, 2),
                    "predict": round(predicted - trained, 2),
                    "cluster": round(done - predicted, 2),
                    "total": round(done - started, 2),
                },
                "pairs": pairs,
                "pairwise": {
                    "precision": pairwise.precision,
                    "recall": pairwise.recall,
                    "f1": pairwise.f1,
                },
                "bcubed_f1": bcubed.f1,
            }
        )
    )


if __name__ == "__main__":
    main()
