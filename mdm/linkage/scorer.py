"""Score record pairs in process, giving the match weights splink's bulk predict gives.

A :class:`Scorer` is built once from a trained model (and the term frequencies the
bulk run used) and then scores a pair in microseconds, in Python: each level's
predicate (see :mod:`mdm.linkage.comparisons`) picks the level splink's SQL would
pick (DuckDB itself is consulted only for the rare value only it can read; see
:mod:`mdm.linkage.duckdb_functions`), and the weights follow splink 5's formulas:

* match weight = ``log2(p / (1 - p))`` of the prior ``p`` (the model's
  ``probability_two_random_records_match``) plus, per comparison, the hit level's
  ``log2(m / u)`` (m and u floored at 1e-300; the null level adds 0; a level the
  model holds no m or u for takes splink's default for its position);
* a level with a ``tf_adjustment_column`` adds
  ``tf_adjustment_weight * (log2(u_exact) - log2(max(tf_l, tf_r, tf_minimum_u_value)))``
  where ``u_exact`` is the u of the comparison's exact-match level on that column and
  ``tf_l``/``tf_r`` are the two values' relative frequencies; a value without a
  frequency takes the other's, and with neither the adjustment is 0;
* match probability = ``2^w / (1 + 2^w)``, computed as splink does for either sign.

The record passed first is splink's left record (``_l``); only the email comparison's
"distinctive address" level reads one side alone (the left record's name-like flag).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pydantic import ValidationError

from mdm.errors import ModelError
from mdm.linkage.comparisons import CompiledComparison, Predicate, compile_levels
from mdm.linkage.duckdb_functions import check_agreement
from mdm.linkage.model import (
    M_U_FLOOR,
    TrainedModel,
    default_m,
    default_u,
    stored_probability,
)

TermFrequencies = Mapping[str, Mapping[str, float]]

_COLUMN = re.compile(r'"([A-Za-z0-9_]+)_[lr]"')
_EXACT = re.compile(r'"([A-Za-z0-9_]+)_l" = "\1_r"')


class LevelHit(NamedTuple):
    """The level a pair hit in one comparison, and what it contributes."""

    comparison: str
    gamma: int
    label: str
    #: log2(m/u) of the level plus its term-frequency adjustment.
    match_weight: float
    #: The part of ``match_weight`` owed to how common the shared value is.
    tf_adjustment: float
    #: Column -> (left value, right value), for the columns the level compares.
    values: dict[str, tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class _TfAdjustment:
    column: str
    frequencies: Mapping[str, float]
    log2_u_exact: float
    weight: float
    minimum_u: float

    def __call__(self, left: Mapping[str, Any], right: Mapping[str, Any]) -> float:
        """splink's ``mw_tf_adj_<comparison>`` for a pair at this level."""
        value_l, value_r = left[self.column], right[self.column]
        tf_l = None if value_l is None else self.frequencies.get(value_l)
        tf_r = None if value_r is None else self.frequencies.get(value_r)
        if tf_l is None:
            if tf_r is None:
                return 0.0
            tf_l = tf_r
        elif tf_r is None:
            tf_r = tf_l
        return self.weight * (self.log2_u_exact - math.log2(max(tf_l, tf_r, self.minimum_u)))


@dataclass(frozen=True, slots=True)
class _Level:
    comparison: str
    gamma: int
    label: str
    test: Predicate
    match_weight: float
    columns: tuple[str, ...]
    tf: _TfAdjustment | None


_Chooser = Callable[["PreparedRecord", "PreparedRecord"], _Level]


def _chooser(levels: Sequence[_Level]) -> _Chooser:
    """A function giving the first level whose predicate holds for a pair, as splink's
    CASE picks it (the last level is ELSE).

    Written out as one ``if`` per level rather than a loop over them, which makes
    scoring about a third faster; the code holds generated names only.
    """
    *tested, otherwise = levels
    namespace: dict[str, Any] = {"otherwise": otherwise}
    lines = ["def choose(left, right):"]
    for i, level in enumerate(tested):
        namespace[f"test{i}"], namespace[f"level{i}"] = level.test, level
        lines.append(f"    if test{i}(left, right): return level{i}")
    lines.append("    return otherwise")
    exec("\n".join(lines), namespace)
    return namespace["choose"]  # type: ignore[no-any-return]


class PreparedRecord(dict[str, Any]):
    """A record as the scorer reads it (see :meth:`Scorer.prepare`)."""

    __slots__ = ()


#: splink's level for a comparison with a value missing on either side.
NULL_GAMMA = -1


class PairScore:
    """A scored pair: its match weight and probability, and per comparison the level hit
    (made when first asked for, so that scoring many candidates stays cheap)."""

    __slots__ = ("_adjustments", "_comparisons", "_hits", "_left", "_right", "match_weight")

    def __init__(
        self,
        match_weight: float,
        hits: tuple[_Level, ...],
        adjustments: tuple[float, ...],
        left: Mapping[str, Any],
        right: Mapping[str, Any],
    ) -> None:
        self.match_weight = match_weight
        self._hits, self._adjustments = hits, adjustments
        self._left, self._right = left, right
        self._comparisons: tuple[LevelHit, ...] | None = None

    @property
    def match_probability(self) -> float:
        """The probability that the two records are the same person."""
        return match_probability(self.match_weight)

    @property
    def gammas(self) -> tuple[int, ...]:
        """The level number (splink's gamma) hit in each comparison, in model order."""
        return tuple(level.gamma for level in self._hits)

    @property
    def missing(self) -> tuple[str, ...]:
        """The comparisons at their missing-value level (gamma -1, a value absent on
        either side), without building :attr:`comparisons`."""
        return tuple(level.comparison for level in self._hits if level.gamma == NULL_GAMMA)

    @property
    def comparisons(self) -> tuple[LevelHit, ...]:
        """The level hit in each comparison, its weight and the values compared."""
        if self._comparisons is None:
            left, right = self._left, self._right
            self._comparisons = tuple(
                LevelHit(
                    level.comparison,
                    level.gamma,
                    level.label,
                    level.match_weight + adjustment,
                    adjustment,
                    {column: (left[column], right[column]) for column in level.columns},
                )
                for level, adjustment in zip(self._hits, self._adjustments, strict=True)
            )
        return self._comparisons

    def __repr__(self) -> str:
        return f"PairScore(match_weight={self.match_weight!r}, gammas={self.gammas!r})"


class Scorer:
    """Scores pairs of records (mappings of column -> value, carrying the derived
    feature columns of :func:`mdm.linkage.features.add_features`) with a trained model.

    ``tf`` maps a term-frequency column to its lookup (value -> relative frequency),
    like splink's ``tf_<column>``; :func:`term_frequencies` counts one from records. A
    column without a lookup gets no adjustment, as splink gives none to a value it has
    no frequency for. Raises :class:`ModelError` when the model's rules no longer
    compile to the SQL it was trained with.
    """

    def __init__(self, model: TrainedModel, tf: TermFrequencies | None = None) -> None:
        check_agreement()
        compiled = _compile_checked(model)
        self.model_id = model.model_id
        self.prior_weight = _prior_weight(model.prior)
        comparisons = [
            _levels(c, stored, tf or {})
            for c, stored in zip(compiled, model.settings["comparisons"], strict=True)
        ]
        self._choosers = tuple(_chooser(levels) for levels in comparisons)
        #: Comparison name -> the columns its levels read (term-frequency columns too).
        self.comparison_columns: dict[str, tuple[str, ...]] = {
            c[0].comparison: tuple(
                sorted({col for level in c for col in (*level.columns, *_tf_column(level))})
            )
            for c in comparisons
        }
        levels = [level for c in comparisons for level in c]
        self.tf_columns: tuple[str, ...] = tuple(
            sorted({level.tf.column for level in levels if level.tf})
        )
        #: The comparisons with a missing-value level, with their choosers.
        self._nullable = tuple(
            (c[0].comparison, choose)
            for c, choose in zip(comparisons, self._choosers, strict=True)
            if any(level.gamma == NULL_GAMMA for level in c)
        )
        read = {column for level in levels for column in level.columns}
        self.columns: tuple[str, ...] = tuple(sorted(read | set(self.tf_columns)))

    def prepare(self, record: Mapping[str, Any]) -> PreparedRecord:
        """The columns the comparisons read, a missing value (absent, NaN, NA) as None
        and an array as a list. Scoring prepares what it is given unless it is prepared
        already: candidates kept prepared are cheaper to score again."""
        if isinstance(record, PreparedRecord):
            return record
        get = record.get
        return PreparedRecord(
            {
                column: value if (value := get(column)).__class__ is str else _plain(value)
                for column in self.columns
            }
        )

    def missing(self, left: Mapping[str, Any], right: Mapping[str, Any]) -> tuple[str, ...]:
        """The comparisons a pair would hit at their missing-value level: what
        ``score(left, right).missing`` gives, testing only the levels up to that one
        (a comparison's first level, as splink's comparisons put it), without weights."""
        left, right = self.prepare(left), self.prepare(right)
        return tuple(
            comparison
            for comparison, choose in self._nullable
            if choose(left, right).gamma == NULL_GAMMA
        )

    def score(self, left: Mapping[str, Any], right: Mapping[str, Any]) -> PairScore:
        """Score one pair, ``left`` being splink's ``_l`` record."""
        return self._score(self.prepare(left), self.prepare(right))

    def score_candidates(
        self, record: Mapping[str, Any], candidates: Iterable[Mapping[str, Any]]
    ) -> list[PairScore]:
        """Score ``record`` (as the left record) against each candidate, in order."""
        left, prepare, score = self.prepare(record), self.prepare, self._score
        return [score(left, prepare(candidate)) for candidate in candidates]

    def _score(self, left: PreparedRecord, right: PreparedRecord) -> PairScore:
        total = self.prior_weight
        hits, adjustments = [], []
        for choose in self._choosers:
            level = choose(left, right)
            total += level.match_weight  # splink adds the level's weight, then its adjustment
            adjustment = 0.0
            if level.tf is not None:
                adjustment = level.tf(left, right)
                total += adjustment
            hits.append(level)
            adjustments.append(adjustment)
        return PairScore(total, tuple(hits), tuple(adjustments), left, right)


def _tf_column(level: _Level) -> tuple[str, ...]:
    return (level.tf.column,) if level.tf is not None else ()


def match_probability(match_weight: float) -> float:
    """``2^w / (1 + 2^w)``, computed as splink computes it for each sign of ``w``."""
    if match_weight >= 0:
        return float(1.0 / (1.0 + 2.0 ** (-match_weight)))
    power = float(2.0**match_weight)
    return power / (1.0 + power)


def term_frequencies(records: pd.DataFrame, columns: Iterable[str]) -> dict[str, dict[str, float]]:
    """Each value's share of the records having a value, per column: what splink counts
    into ``tf_<column>`` over the table it predicts on."""
    found = {}
    for column in columns:
        counts = records[column].dropna().value_counts(sort=False)
        total = int(counts.sum())
        found[column] = {str(value): int(n) / total for value, n in counts.items()}
    return found


def _compile_checked(model: TrainedModel) -> list[CompiledComparison]:
    """The model's rules compiled again, refusing a model whose stored SQL differs."""
    retrain = "retrain with 'mdm reconcile ... --retrain'"
    try:
        rules = model.match_rules
    except ValidationError as exc:
        raise ModelError(
            f"model {model.model_id} holds rules this version of mdm rejects "
            f"({exc.error_count()} error(s)); {retrain}"
        ) from exc
    compiled = [compile_levels(c) for c in rules.comparisons]
    stored = model.settings["comparisons"]
    ours, theirs = [c.name for c in compiled], [c["output_column_name"] for c in stored]
    if ours != theirs:
        raise ModelError(
            f"model {model.model_id} has comparisons {theirs} but its rules compile to "
            f"{ours}; {retrain}"
        )
    for comparison, saved in zip(compiled, stored, strict=True):
        mine = [level.condition.sql for level in comparison.levels]
        kept = [level["sql_condition"] for level in saved["comparison_levels"]]
        if mine != kept:
            at = next((i for i, (a, b) in enumerate(zip(mine, kept, strict=False)) if a != b), None)
            at = min(len(mine), len(kept)) if at is None else at
            raise ModelError(
                f"model {model.model_id} was trained with SQL its rules no longer compile to "
                f"(comparison '{comparison.name}', level {at}: stored "
                f"{kept[at] if at < len(kept) else 'no level'!r}, compiled "
                f"{mine[at] if at < len(mine) else 'no level'!r}), so its weights cannot be "
                f"reproduced; {retrain}"
            )
    return compiled


def _prior_weight(prior: float) -> float:
    return math.log2(prior / (1 - prior)) if prior != 1 else math.inf


def _levels(
    compiled: CompiledComparison, stored: Mapping[str, Any], tf: TermFrequencies
) -> list[_Level]:
    """The levels of a comparison with the weights of the stored model."""
    assert compiled.levels[-1].condition.sql == "ELSE", "every comparison ends with ELSE"
    saved = stored["comparison_levels"]
    n = sum(not level.is_null for level in compiled.levels)
    defaults_m, defaults_u = default_m(n), default_u(n)

    def m(i: int) -> float:
        return stored_probability(
            saved[i].get("m_probability"), defaults_m[compiled.levels[i].gamma]
        )

    def u(i: int) -> float:
        return stored_probability(
            saved[i].get("u_probability"), defaults_u[compiled.levels[i].gamma]
        )

    primary = _columns(compiled.levels[0].condition.sql)  # the null level's: what is compared
    levels = []
    for i, level in enumerate(compiled.levels):
        shown = tuple(dict.fromkeys([*primary, *_columns(level.condition.sql)]))
        weight, adjustment = 0.0, None
        if not level.is_null:
            weight = math.log2(max(m(i), M_U_FLOOR) / max(u(i), M_U_FLOOR))
            adjustment = _tf_adjustment(compiled, saved, i, tf, u)
        test = level.condition.test
        levels.append(
            _Level(compiled.name, level.gamma, level.label, test, weight, shown, adjustment)
        )
    return levels


def _tf_adjustment(
    compiled: CompiledComparison,
    saved: Sequence[Mapping[str, Any]],
    i: int,
    tf: TermFrequencies,
    u: Callable[[int], float],
) -> _TfAdjustment | None:
    """splink's term-frequency adjustment of level ``i`` (None where it has none); its u
    is that of the first level that is an exact match on the column, as in splink."""
    params = saved[i]
    column = params.get("tf_adjustment_column")
    weight = float(params.get("tf_adjustment_weight", 1.0))
    if not column or weight == 0 or compiled.levels[i].condition.sql == "ELSE":
        return None
    exact: int | None = i
    if not params.get("disable_tf_exact_match_detection"):
        exact = next((j for j, lv in enumerate(saved) if _exact_column(lv) == column.lower()), None)
    if exact is None:
        raise ModelError(
            f"comparison '{compiled.name}' adjusts for the frequency of '{column}' but has no "
            "exact-match level on it (splink cannot score it either)"
        )
    minimum = float(params.get("tf_minimum_u_value", 0.0))
    return _TfAdjustment(column, tf.get(column, {}), math.log2(u(exact)), weight, minimum)


def _exact_column(level: Mapping[str, Any]) -> str | None:
    match = _EXACT.fullmatch(level["sql_condition"].strip())
    return match.group(1).lower() if match else None


def _columns(sql: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_COLUMN.findall(sql)))


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.bool_):
        return bool(value)
    return value
