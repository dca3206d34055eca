"""The Spark backend: the model's SQL rewritten for Spark decides every level as DuckDB
does, and a run on Spark (local mode) gives the same clusters as a run on DuckDB."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.bulk.ingest import SourceSpec
from mdm.bulk.reconcile import reconcile
from mdm.bulk.spark import (
    Backend,
    date_days_batch,
    jw_at_least_batch,
    levenshtein_batch,
    spark_settings,
    spark_sql,
)
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.errors import ConfigError
from mdm.rules.bundle import RulesBundle

REPO = Path(__file__).resolve().parents[1]

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
if not HAVE_SPARK and os.environ.get("MDM_REQUIRE_SPARK"):
    raise RuntimeError("MDM_REQUIRE_SPARK is set but pyspark or java is missing")
needs_spark = pytest.mark.skipif(
    not HAVE_SPARK, reason="needs pyspark (pip install 'mdm[spark]') and Java 17 on the PATH"
)


def test_conditions_are_rewritten_to_the_duckdb_exact_functions() -> None:
    # Spark's function names are case-insensitive; sqlglot writes them in capitals
    assert spark_sql('jaro_winkler_similarity("a_l", "a_r") >= 0.92').lower() == (
        "mdm_jaro_winkler_at_least(`a_l`, `a_r`, 0.92)"
    )
    assert (
        spark_sql('levenshtein("a_l", "a_r") <= 1').lower() == "mdm_levenshtein(`a_l`, `a_r`) <= 1"
    )
    assert spark_sql('list_has_any("v_l", "v_r")').lower() == "arrays_overlap(`v_l`, `v_r`)"
    days = spark_sql(
        'abs(date_diff(\'day\', try_cast("d_l" AS DATE), try_cast("d_r" AS DATE))) <= 365'
    )
    assert days.lower() == "abs((mdm_date_days(`d_r`) - mdm_date_days(`d_l`))) <= 365"
    assert spark_sql("ELSE") == "ELSE"
    assert spark_sql('l."email" = r."email"') == "l.`email` = r.`email`"


def test_every_level_of_the_default_model_is_spark_sql() -> None:
    from mdm.linkage.model import splink_settings
    from mdm.rules.match import load_match_rules

    settings_ = spark_settings(splink_settings(load_match_rules(DEFAULT_MATCH_RULES)))
    assert settings_["sql_dialect"] == "spark"
    text = repr(settings_)
    for duckdb_only in ("jaro_winkler_similarity", "list_has_any", "try_cast", "levenshtein("):
        assert duckdb_only not in text
    assert all(
        r["sql_dialect"] == "spark" for r in settings_["blocking_rules_to_generate_predictions"]
    )


names = st.one_of(st.none(), st.text(alphabet="abcdeéß ", max_size=8))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=1, max_size=20), st.sampled_from([0.8, 0.92]))
def test_batch_functions_agree_with_duckdb(pairs: list, threshold: float) -> None:
    left = pd.Series([a for a, _ in pairs], dtype=object)
    right = pd.Series([b for _, b in pairs], dtype=object)
    with duckdb.connect() as con:
        con.register("p", pd.DataFrame({"a": left, "b": right}))
        expected = con.execute(
            f"SELECT jaro_winkler_similarity(a, b) >= {threshold}, levenshtein(a, b) FROM p"
        ).fetchall()
    at_least = jw_at_least_batch(left, right, pd.Series([threshold] * len(pairs)))
    edits = levenshtein_batch(left, right)
    for (jw, lev), got_jw, got_lev in zip(expected, at_least, edits, strict=True):
        assert (None if pd.isna(got_jw) else bool(got_jw)) == jw
        assert (None if pd.isna(got_lev) else int(got_lev)) == lev


def test_date_days_reads_dates_as_duckdb_casts_them() -> None:
    days = date_days_batch(pd.Series(["1970-01-02", "2020/1/1", "not a date", None]))
    assert days.tolist()[:2] == [1, 18262]
    assert days.isna().tolist() == [False, False, True, True]


def test_an_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="duckdb, spark"):
        Backend("flink")
    os.environ["MDM_BACKEND"] = "Spark"
    try:
        assert Backend.from_environment().kind == "spark"
        assert Backend.from_environment("duckdb").kind == "duckdb"
    finally:
        del os.environ["MDM_BACKEND"]


def _dataset(name: str, folder: Path) -> tuple[Path, RulesBundle]:
    from splink.internals.datasets.splink_datasets import datasets_cache_dir

    if not (Path(datasets_cache_dir) / f"{name}.csv").is_file():
        pytest.skip(
            f"splink's {name} is not in its dataset cache; with internet it downloads on "
            "first use, offline run ../shared/tools/seed-splink-datasets .venv/bin/python"
        )
    from splink import splink_datasets

    frame = getattr(splink_datasets, name).to_pandas()
    path = folder / f"{name}.csv"
    frame.astype(str).replace({"nan": "", "None": ""}).to_csv(path, index=False)
    own = REPO / "benchmarks" / "rules" / "febrl.match.yaml"
    match = DEFAULT_MATCH_RULES if name == "fake_1000" else own
    return path, RulesBundle.load(match, mappings_dir=REPO / "benchmarks" / "rules")


def _state(db: Path) -> tuple[list, list]:
    with duckdb.connect(str(db), read_only=True) as con:
        xref = con.execute("SELECT source, record_id, golden_id FROM xref ORDER BY ALL").fetchall()
        tasks = con.execute(
            "SELECT source_l, record_id_l, source_r, record_id_r, golden_id_l, golden_id_r, "
            "round(match_weight, 9) FROM review_tasks ORDER BY ALL"
        ).fetchall()
    return xref, tasks


@needs_spark
@pytest.mark.parametrize("name", ["fake_1000", "febrl3"])
def test_spark_gives_the_clusters_duckdb_gives(name: str, tmp_path: Path) -> None:
    source, rules = _dataset(name, tmp_path)
    on_duckdb, on_spark = tmp_path / "duckdb.duckdb", tmp_path / "spark.duckdb"
    spec = [SourceSpec(name, source)]
    reconcile(spec, on_duckdb, rules)  # trains the model both runs then use
    shutil.copy(on_duckdb, on_spark)
    duck = reconcile(spec, on_duckdb, rules)
    workdir = tmp_path / "spark-work"
    spark = reconcile(
        spec, on_spark, rules, backend=Backend("spark", "local[2]", spark_workdir=workdir)
    )
    assert spark.candidate_pairs == duck.candidate_pairs > 0
    assert spark.link_threshold == pytest.approx(duck.link_threshold, abs=1e-9)
    duck_state, spark_state = _state(on_duckdb), _state(on_spark)
    assert spark_state[0] == duck_state[0]  # every record in the same golden record, same ids
    assert spark_state[1] == duck_state[1]  # and the same review tasks
    assert spark.multi_record_golden == duck.multi_record_golden > 0
    # the scored pairs land in the working folder; no copy of customer values stays there
    kept = [p.relative_to(workdir) for p in workdir.rglob("*") if p.suffix == ".parquet"]
    assert kept and all(p.parts[1] == "pairs.parquet" for p in kept), kept
    with duckdb.connect() as con:
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{workdir}/*/pairs.parquet/*.parquet')"
        ).fetchall()
    assert sorted(row[0] for row in described) == [
        "match_probability",
        "match_weight",
        "uid_l",
        "uid_r",
    ]
