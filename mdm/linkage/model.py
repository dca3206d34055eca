"""The trained model: splink settings with m and u, as a versioned JSON artefact.

A model is tied to the fingerprint of the rules it was trained from; it is reused
until the rules change or retraining is asked for.

Why one module of this size: the model's whole life with splink (settings from the
rules, the EM sessions and their retries, the prior, predicting, the versioned
artefact) is one adapter over splink's API, kept in one place so that a splink
release touches one file.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from splink import DuckDBAPI, Linker
from splink.internals.comparison_vector_values import (
    compute_comparison_vector_values_from_id_pairs_sqls,
)
from splink.internals.exceptions import SplinkException
from splink.internals.pipeline import CTEPipeline
from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings
from splink.internals.vertically_concatenate import enqueue_df_concat_with_tf

from mdm.errors import ModelError
from mdm.linkage.comparisons import (
    EXACT_LABEL,
    MISPLACED_LABEL,
    SWAPPED_LABEL,
    compile_comparison,
    level_case_sql,
    level_columns,
)
from mdm.linkage.prior import (
    PriorChoice,
    all_pairs,
    choose_prior,
    maximum_likelihood_prior,
    prior_weight,
    start_prior,
)
from mdm.rules.match import BlockingRule, MatchRules, comparison_columns, comparison_name
from mdm.sql import one, present_columns

MODEL_FORMAT = "mdm.model/1"
UNIQUE_ID = "uid"


def blocking_sql(rule: BlockingRule, index: int | None = None) -> str:
    """The SQL condition of a blocking rule over a pair aliased l and r.

    A rule with ``max_block_size`` or ``any_order`` compares its key column
    ``_block_<index>`` (see :func:`add_block_keys`), which is missing for values shared
    by too many records. Without ``index`` (a training rule), an ``any_order`` rule
    compares the lesser and the greater of its two values.
    """
    if rule.keyed and index is not None:
        column = block_key_column(index)
        return f'l."{column}" = r."{column}"'
    if rule.any_order:
        present = " AND ".join(f'{side}."{k}" IS NOT NULL' for side in "lr" for k in rule.keys)
        pairs = zip(key_terms(rule, "l."), key_terms(rule, "r."), strict=True)
        return present + "".join(f" AND {left} = {right}" for left, right in pairs)
    return " AND ".join(f'l."{key}" = r."{key}"' for key in rule.keys)


def key_terms(rule: BlockingRule, alias: str = "") -> list[str]:
    """The SQL terms a rule's key is made of (columns prefixed with ``alias``): the
    keys, or for ``any_order`` the lesser and the greater of the two (in byte order,
    as Python compares text)."""
    columns = [f'{alias}"{k}"' for k in rule.keys]
    if rule.any_order:
        return [f"least({columns[0]}, {columns[1]})", f"greatest({columns[0]}, {columns[1]})"]
    return columns


def hashed_key_sql(rule: BlockingRule) -> str:
    """A keyed rule's key as one integer: a 63-bit hash of its terms, so the joins that
    count blocks and find pairs compare integers, not joined text (and ("a|b", "c") is
    not ("a", "b|c")). Two different keys share a hash about once in 10^5 runs of ten
    million distinct keys; they then make extra candidate pairs, scored like any other
    (on a capped rule their counts add up against the cap). The key lives as long as
    one run's tables: it is never stored."""
    return "(hash(" + ", ".join(key_terms(rule)) + ") >> 1)::BIGINT"


def block_key_column(index: int) -> str:
    """The column holding the key of blocking rule ``index`` (:func:`hashed_key_sql`)."""
    return f"_block_{index}"


def add_block_keys(
    con: duckdb.DuckDBPyConnection, table: str, rules: MatchRules, *, temporary: bool = False
) -> None:
    """Add a key column for each keyed blocking rule (:attr:`BlockingRule.keyed`): the
    hashed keys, NULL unless all are present, and on a capped rule also where more
    than ``max_block_size`` records share them (hash aggregates, one rewrite)."""
    joins, columns = block_key_sql(con, table, rules)
    if not columns:
        return
    kind = "TEMP TABLE" if temporary else "TABLE"
    one(
        con.execute(
            f"CREATE OR REPLACE {kind} {table} AS SELECT t.*, {', '.join(columns)} "
            f"FROM {table} t {' '.join(joins)}"
        )
    )


def block_key_sql(
    con: duckdb.DuckDBPyConnection, table: str, rules: MatchRules
) -> tuple[list[str], list[str]]:
    """What a SELECT over ``table``'s records needs to carry the key columns of
    :func:`add_block_keys`: the joins (to the keys too many records share, counted in
    ``table`` now, as temporary tables) and the column expressions. The key columns
    are named unqualified: nothing else joined may hold a column of that name."""
    joins, columns = [], []
    for index, rule in enumerate(rules.blocking):
        if not rule.keyed:
            continue
        key = hashed_key_sql(rule)
        present = " AND ".join(f'"{k}" IS NOT NULL' for k in rule.keys)
        if rule.max_block_size is None:
            # A hash of NULLs is not NULL (and least/greatest ignore them): test presence.
            columns.append(f"CASE WHEN {present} THEN {key} END AS {block_key_column(index)}")
            continue
        # The keys past the cap, not those within it: a few values (common surnames,
        # placeholder dates) against nearly every one. Joined, the latter held a hash
        # table of most records' keys for each rule at once, and 10M records ran out of
        # memory.
        crowded = f"_crowded_{index}"
        one(
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {crowded} AS SELECT {key} AS k FROM {table} "
                f"WHERE {present} GROUP BY ALL HAVING count(*) > {rule.max_block_size}"
            )
        )
        # Only a record with every key present has a block key.
        joins.append(f"LEFT JOIN {crowded} ON {crowded}.k = {key}")
        columns.append(
            f"CASE WHEN {present} AND {crowded}.k IS NULL THEN {key} END "
            f"AS {block_key_column(index)}"
        )
    return joins, columns


def _blocking_dicts(rules: MatchRules) -> list[dict[str, str]]:
    return [
        {"blocking_rule": blocking_sql(rule, index), "sql_dialect": "duckdb"}
        for index, rule in enumerate(rules.blocking)
    ]


def splink_settings(rules: MatchRules) -> dict[str, Any]:
    """Untrained splink settings compiled from the rules."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": UNIQUE_ID,
        "comparisons": [compile_comparison(c) for c in rules.comparisons],
        "blocking_rules_to_generate_predictions": _blocking_dicts(rules),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "sql_dialect": "duckdb",
        "em_convergence": 0.001,
        "max_iterations": 25,
    }


#: What splink stores for a level no training pair reached, and the probability it means.
LEVEL_NOT_OBSERVED = ("level not observed in training dataset", 1e-6)
#: splink's floor on m and u when it takes their logarithm.
M_U_FLOOR = 1e-300


def default_m(levels: int) -> list[float]:
    """splink's default m by level number (comparison_level._default_m_values)."""
    exact = 0.95
    split = (1 - exact) / (levels - 1)
    return [split] * (levels - 1) + [exact]


def default_u(levels: int) -> list[float]:
    """splink's default u by level number (comparison_level._default_u_values)."""
    if levels == 2:
        weights: list[float] = [-5]
    else:
        step = (3 - -5) / (levels - 2)
        weights = [-5 + i * step for i in range(levels - 1)]
    weights.append(10)
    return [m / 2**w for m, w in zip(default_m(levels), weights, strict=True)]


def stored_probability(value: Any, default: float) -> float:
    """An m or u as splink reads it from a saved model: missing means the default."""
    if value is None:
        return default
    if value == LEVEL_NOT_OBSERVED[0]:
        return LEVEL_NOT_OBSERVED[1]
    return float(value)


@dataclass(frozen=True)
class TrainedModel:
    """A model artefact: which rules it came from, when, and splink's trained settings."""

    model_id: str
    rules_fingerprint: str
    created_at: str
    settings: dict[str, Any]
    rules: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The artefact as JSON (what is stored and exported)."""
        return json.dumps(
            {
                "format": MODEL_FORMAT,
                "model_id": self.model_id,
                "rules_fingerprint": self.rules_fingerprint,
                "created_at": self.created_at,
                "training": self.training,
                "rules": self.rules,
                "splink_settings": self.settings,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> TrainedModel:
        """Read an artefact, refusing formats this version does not know."""
        data = json.loads(text)
        if data.get("format") != MODEL_FORMAT:
            raise ModelError(
                f"model format {data.get('format')!r} is not {MODEL_FORMAT!r}; retrain with "
                "'mdm reconcile ... --retrain'"
            )
        return cls(
            data["model_id"],
            data["rules_fingerprint"],
            data["created_at"],
            data["splink_settings"],
            data["rules"],
            data.get("training", {}),
        )

    @property
    def match_rules(self) -> MatchRules:
        """The rules this model was trained from."""
        return MatchRules.model_validate(self.rules)

    def levels(self, comparison: str) -> dict[int, tuple[float, float]]:
        """(match weight, m probability) of each level of a comparison, by splink's level
        number (gamma): the null level is -1, the others count down to 0 ("different").
        A level training left without m or u takes splink's default, as predict does."""
        for item in self.settings["comparisons"]:
            if item["output_column_name"] != comparison:
                continue
            levels = [lv for lv in item["comparison_levels"] if not lv.get("is_null_level")]
            defaults_m, defaults_u = default_m(len(levels)), default_u(len(levels))
            found = {-1: (0.0, 0.0)}
            for number, level in zip(range(len(levels) - 1, -1, -1), levels, strict=True):
                m = stored_probability(level.get("m_probability"), defaults_m[number])
                u = stored_probability(level.get("u_probability"), defaults_u[number])
                found[number] = (math.log2(max(m, M_U_FLOOR) / max(u, M_U_FLOOR)), m)
            return found
        raise ModelError(f"the model has no comparison named '{comparison}'")

    @property
    def tf_columns(self) -> list[str]:
        """The columns whose term frequencies the model's levels adjust for."""
        return sorted(
            {
                level["tf_adjustment_column"]
                for comparison in self.settings["comparisons"]
                for level in comparison["comparison_levels"]
                if level.get("tf_adjustment_column")
            }
        )

    @property
    def prior(self) -> float:
        """The trained probability that two random records match."""
        return float(self.settings["probability_two_random_records_match"])

    def with_prior(self, choice: PriorChoice) -> TrainedModel:
        """This model with the prior ``choice`` chose, recorded in its training info."""
        settings = {**self.settings, "probability_two_random_records_match": choice.prior}
        training = {**self.training, "prior": {**self.training.get("prior", {}),
                                               **choice.as_dict()}}  # fmt: skip
        return TrainedModel(
            self.model_id, self.rules_fingerprint, self.created_at, settings, self.rules, training
        )


MIN_EM_PAIRS = 100
#: Records per slice of chunked prediction (:func:`predict_pairs`).
PREDICT_CHUNK_RECORDS = 1_000_000


def count_blocked_pairs(con: duckdb.DuckDBPyConnection, table: str, rule: BlockingRule) -> int:
    """How many record pairs a blocking rule generates (all keys present and equal)."""
    keys = ", ".join(key_terms(rule))
    present = " AND ".join(f'"{key}" IS NOT NULL' for key in rule.keys)
    sql = (
        f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) AS n FROM {table} "
        f"WHERE {present} GROUP BY {keys})"
    )
    row = one(con.execute(sql))
    return int(row[0]) if row else 0


def _quiet() -> None:
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)


#: Significant digits a trained model keeps of each probability. DuckDB sums EM's
#: expectations over pairs in parallel, in no fixed order, so the last bits of m, u and
#: the prior differ from run to run; a label-free threshold read off the scores would
#: then move with them, and the same records could cluster differently.
SETTLED_DIGITS = 12


#: The smallest m a trained level keeps: splink's own value for a level it never saw.
#: EM that collapses on a rare level (a few swapped names, all scored as non-matches)
#: drives its m towards 0 (1e-63 after five iterations), which would make that level
#: a veto no evidence could outweigh.
M_FLOOR = 1e-6


def settled(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with the prior and every level's m and u rounded to
    :data:`SETTLED_DIGITS` significant digits (so that re-running on the same records
    gives the same model), and no m below :data:`M_FLOOR`."""

    def keep(value: Any, floor: float = 0.0) -> Any:
        if not isinstance(value, float):
            return value
        return float(f"{max(value, floor):.{SETTLED_DIGITS}g}")

    settings = json.loads(json.dumps(settings))
    key = "probability_two_random_records_match"
    settings[key] = keep(settings.get(key))
    for comparison in settings.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            for name, floor in (("m_probability", M_FLOOR), ("u_probability", 0.0)):
                if name in level:
                    level[name] = keep(level[name], floor)
    return settings


def swaps_weigh_no_more_than_agreement(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with no swapped-names level (nor a name typed in the other name's
    field) weighing more than its comparison's exact level (the weight before term
    frequencies).

    A name found in the other name's field says what the name agreeing in place says,
    no more. Random pairs almost never hold two names crossed, so the u EM estimates
    for those levels is tiny and their weight would exceed exact agreement's by
    several units per name: two different people of one name, one record typed
    swapped, would then outweigh their different birth dates and identifiers. The
    level's u is raised until its weight equals the exact level's.
    """
    settings = json.loads(json.dumps(settings))
    for comparison in settings.get("comparisons", []):
        levels = comparison.get("comparison_levels", [])
        exact = next((lv for lv in levels if lv.get("label_for_charts") == EXACT_LABEL), None)
        if exact is None or not exact.get("m_probability") or not exact.get("u_probability"):
            continue
        bound = exact["m_probability"] / exact["u_probability"]
        for level in levels:
            label = str(level.get("label_for_charts", ""))
            m, u = level.get("m_probability"), level.get("u_probability")
            crossed = label.startswith((SWAPPED_LABEL, MISPLACED_LABEL))
            if crossed and m and u and m / u > bound:
                level["u_probability"] = m / bound
    return settings


#: Iteration caps a training session is retried with when EM collapses (drives a
#: level's m to 0: every pair at that level looked like a non-match to it, often in the
#: first iterations of a session whose blocked column says little alone). Stopping EM
#: early keeps what the first iterations learned; a session that collapses even then
#: is skipped.
RETRY_ITERATIONS = (5, 2)


def _em_session(
    linker: Linker, db_api: DuckDBAPI, source: str, before: dict[str, Any], rule: BlockingRule
) -> tuple[bool, Linker, int | None, BaseException | None]:
    """Run one EM session on ``rule``: (trained, the linker to go on with, the iteration
    cap it needed or None, the error of the full-length attempt).

    A session fails when EM drives a level's m to 0, or when its blocking rule covers
    every comparison left to train. splink leaves a failed session's state behind, so
    each retry, and training after a skipped session, starts from a linker rebuilt with
    the parameters as they were before it."""
    first_error: BaseException | None = None
    for cap in (None, *RETRY_ITERATIONS):
        if cap is not None:
            settings = {**before, "max_iterations": cap}
            linker = Linker(db_api.register(source), settings, log_level=logging.ERROR)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                blocking_sql(rule), estimate_without_term_frequencies=True
            )
        except (ValueError, SplinkException) as error:
            first_error = first_error or error
            if "m_probability value 0.0" not in str(error):
                break  # not a collapse: fewer iterations would not help
            continue
        if cap is not None:  # later sessions run full length
            restored = {
                **linker.misc.save_model_to_json(),
                "max_iterations": before["max_iterations"],
            }
            linker = Linker(db_api.register(source), restored, log_level=logging.ERROR)
        return True, linker, cap, first_error
    return (
        False,
        Linker(db_api.register(source), before, log_level=logging.ERROR),
        None,
        first_error,
    )


def _untrained(settings: dict[str, Any]) -> list[str]:
    """The comparisons of ``settings`` none of whose levels has an estimated m."""
    return [
        comparison["output_column_name"]
        for comparison in settings.get("comparisons", [])
        if not any(
            level.get("m_probability") is not None
            for level in comparison.get("comparison_levels", [])
            if not level.get("is_null_level")
        )
    ]


def _train_the_untrained(
    con: duckdb.DuckDBPyConnection,
    linker: Linker,
    db_api: DuckDBAPI,
    source: str,
    rules: MatchRules,
    sessions: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
) -> Linker:
    """Estimate m for the comparisons the sessions left untrained, each in the first
    ``training.em_fallback`` session whose keys it does not read and the data fills;
    every other comparison keeps its estimates."""
    if not rules.training.em_fallback:
        return linker
    columns = {comparison_name(c): set(comparison_columns(c)) for c in rules.comparisons}
    present = present_columns(con, source)
    for rule in rules.training.em_fallback:
        settings = linker.misc.save_model_to_json()
        wanted = [
            name
            for name in _untrained(settings)
            if columns.get(name, set()) & present and not columns[name] & set(rule.keys)
        ]
        if not wanted:
            continue
        clock = time.perf_counter()
        pairs = count_blocked_pairs(con, source, rule)
        if pairs < MIN_EM_PAIRS:
            continue
        trained, after, iterations, error = _em_session(linker, db_api, source, settings, rule)
        if not trained:
            skipped.append({"keys": rule.keys, "pairs": pairs, "reason": str(error)[:200]})
            continue
        estimated = {
            c["output_column_name"]: c for c in after.misc.save_model_to_json()["comparisons"]
        }
        merged = json.loads(json.dumps(settings))
        merged["comparisons"] = [
            estimated[c["output_column_name"]] if c["output_column_name"] in wanted else c
            for c in merged["comparisons"]
        ]
        linker = Linker(db_api.register(source), merged, log_level=logging.ERROR)
        session: dict[str, Any] = {
            "keys": rule.keys,
            "pairs": pairs,
            "seconds": round(time.perf_counter() - clock, 2),
            "only": wanted,
        }
        if iterations is not None:
            session["max_iterations"] = iterations
        sessions.append(session)
    return linker


def _prefer_specific_sessions(
    linker: Linker, rules: list[BlockingRule]
) -> dict[str, list[list[str]]]:
    """Where a level's m was estimated by two sessions and one session's blocking keys
    include the other's (first + last name + email, and first + last name), drop the
    less specific session's estimate: the pairs the narrower session compares are more
    surely one person. Pairs sharing only a name include a father and son at one
    address, whom EM counts as one person whose birth date changed. The other
    estimates keep splink's median. Returns comparison -> the sessions (their keys)
    whose estimates were dropped."""
    # splink keeps each session's estimate on the level (a private list, the splink of
    # requirements.lock; tests/linkage/test_training_sessions.py fails if it changes),
    # described by the session's blocking SQL.
    keys_of = {f"EM, blocked on: {blocking_sql(rule)}": set(rule.keys) for rule in rules}
    named = {f"EM, blocked on: {blocking_sql(rule)}": list(rule.keys) for rule in rules}
    dropped: dict[str, list[list[str]]] = {}
    for comparison in linker._settings_obj.comparisons:
        for level in comparison._comparison_levels_excluding_null:
            trained = [
                t for t in level._trained_m_probabilities if isinstance(t["probability"], float)
            ]
            ran = {t["description"] for t in trained if t["description"] in keys_of}
            superseded = {d for d in ran if any(keys_of[d] < keys_of[o] for o in ran)}
            if not superseded:
                continue
            kept = [t["probability"] for t in trained if t["description"] not in superseded]
            if kept:
                level.m_probability = float(statistics.median(kept))
                gone = dropped.setdefault(comparison.output_column_name, [])
                gone.extend(named[d] for d in sorted(superseded) if named[d] not in gone)
    return dropped


def train_model(
    con: duckdb.DuckDBPyConnection, table: str, rules: MatchRules, n_records: int
) -> TrainedModel:
    """Estimate m and u without labels (random sampling for u, EM for m)."""
    started = time.perf_counter()
    limit = rules.training.max_training_records
    source = table
    if n_records > limit:
        source = f"{table}_training_sample"
        con.execute(
            f"CREATE OR REPLACE TABLE {source} AS SELECT * FROM {table} "
            f"WHERE hash({UNIQUE_ID} + {rules.training.seed}) % {n_records} < {limit}"
        )
    db_api = DuckDBAPI(connection=con)
    settings = splink_settings(rules)
    linker = Linker(db_api.register(source), settings, log_level=logging.ERROR)
    _quiet()
    steps: dict[str, float] = {"sample": round(time.perf_counter() - started, 2)}
    clock = time.perf_counter()
    deterministic = 0.0  # no deterministic rule the data can fill: EM starts from 1/records
    if rules.training.prior_rules:
        linker.training.estimate_probability_two_random_records_match(
            [blocking_sql(r) for r in rules.training.prior_rules],
            recall=rules.training.prior_recall,
        )
        settings_now = linker.misc.save_model_to_json()
        deterministic = float(settings_now["probability_two_random_records_match"])
    start = start_prior(deterministic, min(n_records, limit))
    if start != deterministic:  # EM cannot move a share away from zero
        settings["probability_two_random_records_match"] = start
        linker = Linker(db_api.register(source), settings, log_level=logging.ERROR)
    steps["prior"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(
        max_pairs=rules.training.u_max_pairs, seed=rules.training.seed
    )
    steps["u"] = round(time.perf_counter() - clock, 2)
    sessions: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []  # sessions whose EM collapsed; the others train
    for rule in rules.training.em_blocking:
        clock = time.perf_counter()
        pairs = count_blocked_pairs(con, source, rule)
        if pairs < MIN_EM_PAIRS:
            continue  # the data lacks these columns; other sessions estimate the rest
        before = linker.misc.save_model_to_json()
        trained, linker, iterations, error = _em_session(linker, db_api, source, before, rule)
        if not trained:
            skipped.append({"keys": rule.keys, "pairs": pairs, "reason": str(error)[:200]})
            continue
        session = {
            "keys": rule.keys,
            "pairs": pairs,
            "seconds": round(time.perf_counter() - clock, 2),
        }
        if iterations is not None:
            session["max_iterations"] = iterations
            session["note"] = f"stopped early: with more iterations EM {str(error)[:120]}"
        sessions.append(session)
        clock = time.perf_counter()
    superseded = _prefer_specific_sessions(linker, rules.training.em_blocking)
    linker = _train_the_untrained(con, linker, db_api, source, rules, sessions, skipped)
    if not sessions and skipped:
        raise ModelError(
            "every training session of 'training.em_blocking' found no matching pairs "
            f"({', '.join('+'.join(s['keys']) for s in skipped)}); add training rules on "
            "columns where the same person's records agree"
        )
    if not sessions:
        raise ModelError(
            "no training rule in 'training.em_blocking' finds enough record pairs "
            f"(at least {MIN_EM_PAIRS}) in this data; add rules on columns the sources fill"
        )
    settings = settled(swaps_weigh_no_more_than_agreement(linker.misc.save_model_to_json()))
    created = datetime.now(UTC).isoformat(timespec="seconds")
    fingerprint = rules.fingerprint()
    model_id = f"{fingerprint}-{created.replace(':', '').replace('-', '')[:15]}"
    training = {
        "records": min(n_records, limit),
        # Replaced by the estimate over the scored pairs (:func:`estimate_prior`).
        "prior": {"deterministic": deterministic, "em_start": start},
        "em_sessions": sessions,
        "em_sessions_skipped": skipped,
        # comparison -> sessions whose m estimates a narrower session replaced
        "em_superseded": superseded,
        "seconds": round(time.perf_counter() - started, 2),
        "steps": steps,
    }
    rules_json = rules.model_dump(mode="json")
    return TrainedModel(model_id, fingerprint, created, settings, rules_json, training)


def estimate_prior(
    con: duckdb.DuckDBPyConnection, scored: str, model: TrainedModel, records: int
) -> TrainedModel:
    """The model with its prior re-estimated over the pairs it scored into ``scored``
    (:func:`mdm.linkage.prior.maximum_likelihood_prior` over all pairs of ``records``
    records), and those pairs' scores moved to the new prior, as predicting with the
    returned model would give them (a match weight is the prior's weight plus the
    comparisons')."""
    before = prior_weight(model.prior)
    # Sorted: the sums below then do not depend on the order DuckDB returns the pairs in
    # (a sliced run stores them in another order, and the last bits moved thresholds).
    weights = np.sort(
        con.execute(f"SELECT match_weight FROM {scored}").fetchnumpy()["match_weight"]
    )
    total = all_pairs(records)
    found = maximum_likelihood_prior(weights - before, total) if len(weights) else None
    deterministic = float(model.training.get("prior", {}).get("deterministic", model.prior))
    chosen = model.with_prior(choose_prior(deterministic, found, total, model.prior))
    shift = prior_weight(chosen.prior) - before
    one(
        con.execute(
            f"UPDATE {scored} SET match_weight = match_weight + ?, match_probability = "
            "CASE WHEN match_weight + ? < -1000 THEN 0.0 "
            "ELSE 1.0 / (1.0 + pow(2.0, -(match_weight + ?))) END",
            [shift, shift, shift],
        )
    )
    return chosen


def predict_pairs(
    con: duckdb.DuckDBPyConnection,
    table: str,
    model: TrainedModel,
    output: str,
    tf_tables: dict[str, str] | None = None,
    on_slice: Callable[[int, int], None] | None = None,
    exclude: str | None = None,
) -> None:
    """Score every candidate pair into ``output``: uid_l, uid_r, match_weight,
    match_probability; but those in table ``exclude`` (uid_l, uid_r), when given.

    ``tf_tables`` maps a column to a table (``<column>, tf_<column>``) to take its term
    frequencies from; other term-frequency columns are counted over ``table`` by splink.
    Past :data:`PREDICT_CHUNK_RECORDS` records the pairs are generated and scored a
    slice at a time, so that what DuckDB holds (or spills) at once stays the same size;
    ``on_slice(done, slices)`` is called as each is stored.

    A slice is the pairs whose right-hand record (the greater uid) is in one range of
    uids. Scoring joins each pair to both its records: the left-hand join is built on
    the slice's pairs, the right-hand one on the records, and a range of them fits in
    memory where all of them spilled (10M records in ten slices of the left-hand uids:
    62 s a slice of 13M pairs; by right-hand range, 1.3 µs a pair).
    """
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register(table), model.settings, log_level=logging.ERROR)
    _quiet()
    for column, tf_table in (tf_tables or {}).items():
        linker.table_management.register_term_frequency_lookup(db_api.register(tf_table), column)
    row = one(con.execute(f"SELECT count(*), min({UNIQUE_ID}), max({UNIQUE_ID}) FROM {table}"))
    records, low, high = (int(row[0]), int(row[1] or 0), int(row[2] or 0) + 1) if row else (0, 0, 1)
    slices = max(1, math.ceil(records / PREDICT_CHUNK_RECORDS))
    rules = [r["blocking_rule"] for r in model.settings["blocking_rules_to_generate_predictions"]]
    blocked = f"{table}_blocked_pairs"
    settings = linker._settings_obj
    # The records with their term frequencies, as splink joins them: in one slice's query
    # as splink writes it; for several slices made once, not once a slice (10M records:
    # 16 s a slice).
    with_tf = None
    if slices > 1:
        pipeline = CTEPipeline()
        enqueue_df_concat_with_tf(linker, pipeline)
        with_tf = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    records_table = "__splink__df_concat_with_tf" if with_tf is None else with_tf.physical_name
    columns = f"{UNIQUE_ID}_l AS uid_l, {UNIQUE_ID}_r AS uid_r, match_weight, match_probability"
    try:
        for done in range(1, slices + 1):
            right = None
            if slices > 1:
                width = high - low
                right = (low + width * (done - 1) // slices, low + width * done // slices)
            pairs = blocked_pairs_sql(table, rules, right, exclude)
            one(con.execute(f"CREATE OR REPLACE TABLE {blocked} AS {pairs}"))
            # splink's own SQL from the blocked pairs on: comparison levels, weights.
            pipeline = CTEPipeline(
                [db_api.table_to_splink_dataframe("__splink__blocked_id_pairs", blocked)]
            )
            if with_tf is None:
                enqueue_df_concat_with_tf(linker, pipeline)
            pipeline.enqueue_list_of_sqls(
                compute_comparison_vector_values_from_id_pairs_sqls(
                    settings._columns_to_select_for_blocking,
                    settings._columns_to_select_for_comparison_vector_values,
                    input_tablename_l=records_table,
                    input_tablename_r=records_table,
                    source_dataset_input_column=(
                        settings.column_info_settings.source_dataset_input_column
                    ),
                    unique_id_input_column=settings.column_info_settings.unique_id_input_column,
                    link_type=settings._link_type,
                    sql_dialect_str="duckdb",
                )
            )
            pipeline.enqueue_list_of_sqls(
                predict_from_comparison_vectors_sqls_using_settings(settings)
            )
            # Straight into ``output``: splink's own predict writes a table of its own first.
            into = f"CREATE OR REPLACE TABLE {output} AS" if done == 1 else f"INSERT INTO {output}"
            sql = pipeline.generate_cte_pipeline_sql()
            one(con.execute(f"{into} SELECT {columns} FROM ({sql})"))
            if on_slice is not None:
                on_slice(done, slices)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {blocked}").fetchall()
        if with_tf is not None:
            with_tf.drop_table_from_database_and_remove_from_cache()


def blocked_pairs_sql(
    table: str,
    rules: Sequence[str],
    right: tuple[int, int] | None = None,
    exclude: str | None = None,
) -> str:
    """The candidate pairs of ``table`` (dedupe: left uid below right) that any of the
    blocking ``rules`` (SQL over ``l`` and ``r``) finds, each once, in the shape splink
    scores (``match_key``: the first rule that finds it; ``join_key_l``, ``join_key_r``);
    with ``right`` (low, high), only the pairs whose right-hand uid is in that range
    (low included, high not); with ``exclude``, none of the pairs in that table
    (``uid_l``, ``uid_r``).

    Each rule's pairs are found by a join of its own and the duplicates dropped by one
    aggregate over them all: splink instead tests every pair a rule finds against each
    earlier rule, which costs more than the joins once there are many rules (the
    default rules have 19)."""
    uid = UNIQUE_ID
    chunk = f" AND r.{uid} >= {right[0]} AND r.{uid} < {right[1]}" if right else ""
    found = " UNION ALL ".join(
        f"SELECT {index} AS rule, l.{uid} AS join_key_l, r.{uid} AS join_key_r "
        f"FROM {table} l JOIN {table} r ON ({rule}) AND l.{uid} < r.{uid}{chunk}"
        for index, rule in enumerate(rules)
    )
    pairs = (
        "SELECT min(rule)::VARCHAR AS match_key, join_key_l, join_key_r "
        f"FROM ({found}) GROUP BY join_key_l, join_key_r"
    )
    if exclude is None:
        return pairs
    return (
        f"SELECT p.* FROM ({pairs}) p ANTI JOIN {exclude} x "
        "ON x.uid_l = p.join_key_l AND x.uid_r = p.join_key_r"
    )


def pair_levels(
    con: duckdb.DuckDBPyConnection,
    table: str,
    model: TrainedModel,
    pairs: str,
    comparisons: tuple[str, ...],
) -> pd.DataFrame:
    """The level (splink's gamma) each pair of ``pairs`` (uid_l, uid_r) hits in each named
    comparison, computed with the model's own SQL: columns uid_l, uid_r, gamma_<name>."""
    compiled = {c["output_column_name"]: c for c in model.settings["comparisons"]}
    wanted = [compiled[name] for name in comparisons]
    columns = sorted({col for c in wanted for col in level_columns(c)})
    sides = {
        side: ", ".join([UNIQUE_ID, *(f'"{col}" AS "{col}_{side}"' for col in columns)])
        for side in ("l", "r")
    }
    gammas = "".join(f', {level_case_sql(c)} AS "gamma_{c["output_column_name"]}"' for c in wanted)
    return con.execute(
        f"SELECT p.uid_l, p.uid_r{gammas} FROM {pairs} p "
        f"JOIN (SELECT {sides['l']} FROM {table}) l ON l.{UNIQUE_ID} = p.uid_l "
        f"JOIN (SELECT {sides['r']} FROM {table}) r ON r.{UNIQUE_ID} = p.uid_r"
    ).df()
