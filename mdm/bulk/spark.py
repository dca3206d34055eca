"""Scoring candidate pairs on Spark, through splink's Spark backend.

A run with ``backend = spark`` does everything else as on DuckDB (reading,
standardising, training on a sample, clustering, survivorship, the store); the pair
generation and scoring, which grow with the data, run on Spark with the same model.

The model's comparison levels are DuckDB SQL. They are rewritten for Spark so that
each level is decided exactly as DuckDB decides it: Jaro-Winkler, Levenshtein and the
date casts become vectorised Python functions (``mdm.linkage.duckdb_functions``,
checked bit for bit against DuckDB), so a pair lands on the same level, gets the same
weight, and the clusters are the same. The records travel to Spark as Parquet in a
working folder and the scored pairs come back the same way; the records and Spark's
checkpoints are deleted when the scoring ends, the scored pairs (ids and scores, no
customer values) are kept there as ``pairs.parquet``.

Needs ``pip install 'mdm[spark]'`` and Java 17 on the machine that starts the run.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from mdm.errors import ConfigError
from mdm.linkage.duckdb_functions import (
    date_days,
    jaro_winkler_at_least,
    jaro_winkler_similarity,
    levenshtein,
)
from mdm.linkage.model import UNIQUE_ID, TrainedModel

BACKENDS = ("duckdb", "spark")


@dataclass(frozen=True)
class Backend:
    """Where candidate pairs are generated and scored: ``duckdb`` (in process, the
    default) or ``spark`` (``master``: ``local[*]`` or a cluster URL; ``workdir``: a
    folder this machine and the cluster both see, where the scored pairs land)."""

    kind: str = "duckdb"
    spark_master: str = "local[*]"
    spark_workdir: Path | None = None

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ConfigError(
                f"backend {self.kind!r} is not one of {', '.join(BACKENDS)}; "
                "set --backend or MDM_BACKEND to one of them"
            )

    @classmethod
    def from_environment(
        cls,
        kind: str | None = None,
        spark_master: str | None = None,
        spark_workdir: Path | None = None,
    ) -> Backend:
        """The backend the options name, else ``MDM_BACKEND``, ``MDM_SPARK_MASTER`` and
        ``MDM_SPARK_WORKDIR``, else DuckDB."""
        workdir = spark_workdir or os.environ.get("MDM_SPARK_WORKDIR")
        return cls(
            kind=(kind or os.environ.get("MDM_BACKEND") or "duckdb").lower(),
            spark_master=spark_master or os.environ.get("MDM_SPARK_MASTER") or "local[*]",
            spark_workdir=Path(workdir) if workdir else None,
        )


# --- the model's SQL, for Spark --------------------------------------------------------

#: Spark SQL names of the Python functions that reproduce DuckDB's.
JW_AT_LEAST = "mdm_jaro_winkler_at_least"
JW = "mdm_jaro_winkler"
LEVENSHTEIN = "mdm_levenshtein"
DATE_DAYS = "mdm_date_days"


def _is_date_cast(node: exp.Expression) -> bool:
    return isinstance(node, exp.TryCast | exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)


def _days(node: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=DATE_DAYS, expressions=[node.this])


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.GTE) and isinstance(node.this, exp.JarowinklerSimilarity):
        jw = node.this
        if isinstance(node.expression, exp.Literal):
            return exp.Anonymous(
                this=JW_AT_LEAST, expressions=[jw.this, jw.expression, node.expression]
            )
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.Anonymous(this=JW, expressions=[node.this, node.expression])
    if isinstance(node, exp.Levenshtein):
        return exp.Anonymous(this=LEVENSHTEIN, expressions=[node.this, node.expression])
    if isinstance(node, exp.ArrayOverlaps):
        return exp.Anonymous(this="arrays_overlap", expressions=[node.this, node.expression])
    if (
        isinstance(node, exp.DateDiff)
        and _is_date_cast(node.this)
        and _is_date_cast(node.expression)
    ):
        unit = node.args.get("unit")
        if unit is None or unit.name.upper() == "DAY":
            return exp.Paren(this=exp.Sub(this=_days(node.this), expression=_days(node.expression)))
    if _is_date_cast(node):
        return exp.Anonymous(this="date_from_unix_date", expressions=[_days(node)])
    return node


def spark_sql(condition: str) -> str:
    """A comparison level's or blocking rule's DuckDB condition, in Spark SQL that
    decides every pair as DuckDB does."""
    if condition.strip().upper() == "ELSE":
        return condition
    tree = sqlglot.parse_one(condition, read="duckdb")
    return tree.transform(_rewrite).sql(dialect="spark")


def spark_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A trained model's splink settings with every condition rewritten for Spark."""
    out = copy.deepcopy(settings)
    out["sql_dialect"] = "spark"
    for comparison in out["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = spark_sql(level["sql_condition"])
            if "sql_dialect" in level:
                level["sql_dialect"] = "spark"
    rules = []
    for rule in out["blocking_rules_to_generate_predictions"]:
        text = rule["blocking_rule"] if isinstance(rule, dict) else rule
        rules.append({"blocking_rule": spark_sql(text), "sql_dialect": "spark"})
    out["blocking_rules_to_generate_predictions"] = rules
    return out


# --- the functions, vectorised --------------------------------------------------------


def _pairs(left: pd.Series, right: pd.Series) -> Iterator[tuple[Any, Any]]:
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        yield (None if a is None or a != a else a), (None if b is None or b != b else b)


def jw_at_least_batch(left: pd.Series, right: pd.Series, threshold: pd.Series) -> pd.Series:
    """``jaro_winkler_similarity(l, r) >= t`` row by row (NULL where a side is NULL)."""
    limit = float(threshold.iloc[0]) if len(threshold) else 0.0
    return pd.Series(
        [
            None if a is None or b is None else jaro_winkler_at_least(a, b, limit)
            for a, b in _pairs(left, right)
        ],
        dtype="boolean",
    )


def jw_batch(left: pd.Series, right: pd.Series) -> pd.Series:
    """DuckDB's ``jaro_winkler_similarity`` row by row."""
    return pd.Series(
        [
            None if a is None or b is None else jaro_winkler_similarity(a, b)
            for a, b in _pairs(left, right)
        ],
        dtype="Float64",
    )


def levenshtein_batch(left: pd.Series, right: pd.Series) -> pd.Series:
    """DuckDB's ``levenshtein`` (edits between UTF-8 bytes) row by row."""
    return pd.Series(
        [None if a is None or b is None else levenshtein(a, b) for a, b in _pairs(left, right)],
        dtype="Int64",
    )


def date_days_batch(text: pd.Series) -> pd.Series:
    """Days since 1970-01-01 of DuckDB's ``try_cast(text AS DATE)``."""
    return pd.Series(
        [None if t is None or t != t else date_days(str(t)) for t in text.tolist()],
        dtype="Int64",
    )


def register_functions(spark: Any) -> None:
    """Register the DuckDB-exact functions the rewritten conditions call."""
    # (pyspark's __all__ names it, but its star import hides it from mypy)
    from pyspark.sql.functions import pandas_udf  # type: ignore[attr-defined]

    spark.udf.register(JW_AT_LEAST, pandas_udf(jw_at_least_batch, "boolean"))
    spark.udf.register(JW, pandas_udf(jw_batch, "double"))
    spark.udf.register(LEVENSHTEIN, pandas_udf(levenshtein_batch, "int"))
    spark.udf.register(DATE_DAYS, pandas_udf(date_days_batch, "int"))


# --- the session and the scoring -------------------------------------------------------


def spark_session(master: str) -> Any:
    """A Spark session for ``master`` (reused within the process). Local mode keeps
    the shuffle small and the web UI off; a cluster's own defaults are kept."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark backend needs pyspark: pip install 'mdm[spark]' (and Java 17)"
        ) from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
    builder = SparkSession.builder.appName("mdm").master(master)
    if master.startswith("local"):
        cores = os.cpu_count() or 2
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(max(4, 2 * cores)))
            .config("spark.driver.memory", os.environ.get("MDM_SPARK_DRIVER_MEMORY", "4g"))
        )
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true").config(
        "spark.ui.showConsoleProgress", "false"
    )
    try:
        spark = builder.getOrCreate()
    except Exception as error:  # the JVM did not start: no Java, or a bad master URL
        raise ConfigError(
            f"Spark did not start ({type(error).__name__}: {str(error)[:200]}); check that "
            "Java 17 is installed and that the Spark master URL is right"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark)
    return spark


def _typed(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """SELECT every column of ``table``; a column no record fills (DuckDB types it NULL,
    Parquet as a number) goes as text, which the conditions compare it with."""
    empty = [
        name for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall() if kind == '"NULL"'
    ]
    if not empty:
        return f"SELECT * FROM {table}"
    casts = ", ".join(f'CAST(NULL AS VARCHAR) AS "{name}"' for name in empty)
    return f"SELECT * REPLACE ({casts}) FROM {table}"


@contextmanager
def _run_folder(workdir: Path | None) -> Iterator[Path]:
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="mdm-spark-") as temporary:
            yield Path(temporary)
        return
    workdir.mkdir(parents=True, exist_ok=True)
    folder = workdir / time.strftime("run-%Y%m%dT%H%M%S")
    folder.mkdir(exist_ok=True)
    yield folder


def predict_pairs_spark(
    con: duckdb.DuckDBPyConnection,
    table: str,
    model: TrainedModel,
    output: str,
    tf_tables: dict[str, str],
    backend: Backend,
) -> Path | None:
    """What :func:`mdm.linkage.model.predict_pairs` does, on Spark: score every
    candidate pair of DuckDB table ``table`` into DuckDB table ``output``. Returns where
    the scored pairs were kept (None when no working folder was given)."""
    from splink import Linker, SparkAPI

    spark = spark_session(backend.spark_master)
    with _run_folder(backend.spark_workdir) as folder:
        records = folder / "records.parquet"
        checkpoints = folder / "checkpoints"
        con.execute(f"COPY ({_typed(con, table)}) TO '{records}' (FORMAT parquet)").fetchall()
        spark.sparkContext.setCheckpointDir(str(checkpoints))
        api = SparkAPI(  # type: ignore[no-untyped-call]  # (splink leaves it unannotated)
            spark_session=spark, break_lineage_method="parquet", register_udfs_automatically=False
        )
        try:
            linker = Linker(
                api.register(spark.read.parquet(str(records))), spark_settings(model.settings)
            )
            for column, tf_table in tf_tables.items():
                path = folder / f"tf_{column}.parquet"
                con.execute(f"COPY (SELECT * FROM {tf_table}) TO '{path}' (FORMAT parquet)")
                con.fetchall()
                lookup = api.register(spark.read.parquet(str(path)))
                linker.table_management.register_term_frequency_lookup(lookup, column)
            predictions = linker.inference.predict()
            pairs = folder / "pairs.parquet"
            predictions.as_spark_dataframe().selectExpr(
                f"{UNIQUE_ID}_l AS uid_l",
                f"{UNIQUE_ID}_r AS uid_r",
                "match_weight",
                "match_probability",
            ).write.mode("overwrite").parquet(str(pairs))
            con.execute(
                f"CREATE OR REPLACE TABLE {output} AS SELECT uid_l, uid_r, match_weight, "
                f"match_probability FROM read_parquet('{pairs}/*.parquet')"
            ).fetchall()
        finally:
            spark.catalog.clearCache()
            # customer values stay only in the store: the copies for Spark go now
            for leftover in (records, checkpoints, *folder.glob("tf_*.parquet")):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
    return None if backend.spark_workdir is None else folder / "pairs.parquet"
