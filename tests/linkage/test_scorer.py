"""The real-time scorer gives splink's match weights: same levels, same weights, same TF.

Three kinds of evidence: every pair splink's bulk predict scores on two public
datasets is scored again in Python (weights within 1e-6, levels identical); every
level's Python predicate agrees with DuckDB evaluating its SQL on generated values;
and a model whose stored SQL the rules no longer compile to is refused.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from mdm.bulk.ingest import SourceSpec
from mdm.bulk.link import load_work_table
from mdm.bulk.load import add_extra_columns
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.errors import ModelError
from mdm.linkage.comparisons import CompiledLevel, compile_levels, level_case_sql
from mdm.linkage.duckdb_functions import (
    damerau_levenshtein,
    date_days,
    jaro_winkler_at_least,
    jaro_winkler_similarity,
)
from mdm.linkage.model import (
    TrainedModel,
    default_m,
    default_u,
    pair_levels,
    predict_pairs,
    splink_settings,
)
from mdm.linkage.scorer import Scorer, match_probability, term_frequencies
from mdm.rules.bundle import RulesBundle
from mdm.rules.match import Comparison, MatchRules, load_match_rules
from mdm.store.reads import latest_model
from mdm.store.records import load_records

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RULES = DEFAULT_MATCH_RULES
FEBRL_RULES = REPO / "benchmarks" / "rules" / "febrl.match.yaml"
TOLERANCE = 1e-6


# --- (a) agreement with splink's bulk predict -------------------------------------------


def _needs_datasets(*names: str) -> None:
    from splink.internals.datasets.splink_datasets import datasets_cache_dir

    missing = [n for n in names if not (Path(datasets_cache_dir) / n).is_file()]
    if missing:
        pytest.skip(
            f"splink's {', '.join(missing)} not in its dataset cache; with internet they "
            "download on first use, offline run ../shared/tools/seed-splink-datasets "
            ".venv/bin/python"
        )


def _write_fake_1000(path: Path) -> None:
    from splink import splink_datasets

    frame = splink_datasets.fake_1000.to_pandas().rename(columns={"cluster": "truth"})
    frame.astype(str).replace({"nan": "", "None": ""}).to_csv(path, index=False)


def _write_febrl3(path: Path) -> None:
    from splink import splink_datasets

    frame = splink_datasets.febrl3.to_pandas()
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.astype(str).apply(lambda column: column.str.strip())
    frame.replace({"nan": "", "None": ""}).to_csv(path, index=False)


class Scored:
    """A reconciled dataset scored by splink: the model, the table splink predicted on
    (as records), the pairs it scored and the levels DuckDB's SQL gave them."""

    def __init__(self, db: Path) -> None:
        with duckdb.connect(str(db), read_only=True) as store:
            self.model = latest_model(store)
        self.con = duckdb.connect()
        self.con.execute(f"ATTACH '{db}' AS store (READ_ONLY)").fetchall()
        records = load_records(self.con, [])
        records["uid"] = np.arange(len(records), dtype=np.int64)
        rules = self.model.match_rules
        load_work_table(self.con, add_extra_columns(records, rules.extra_columns), rules)
        predict_pairs(self.con, "work", self.model, "scored")
        self.pairs = self.con.execute(
            "SELECT uid_l, uid_r, match_weight, match_probability FROM scored ORDER BY 1, 2"
        ).fetchall()
        cursor = self.con.execute("SELECT * FROM work")
        names = [d[0] for d in cursor.description]
        self.rows = {
            row["uid"]: row for row in (dict(zip(names, t, strict=True)) for t in cursor.fetchall())
        }
        self.table = self.con.execute("SELECT * FROM work").df()
        names_ = tuple(c["output_column_name"] for c in self.model.settings["comparisons"])
        levels = pair_levels(self.con, "work", self.model, "scored", names_)
        self.gammas = {
            (int(row[0]), int(row[1])): tuple(int(g) for g in row[2:])
            for row in levels.itertuples(index=False)
        }

    def tf(self) -> dict[str, dict[str, float]]:
        """The term frequencies splink counted over the table it predicted on."""
        return term_frequencies(self.table, Scorer(self.model).tf_columns)


@pytest.fixture(scope="module")
def fake_1000(tmp_path_factory: pytest.TempPathFactory) -> Scored:
    _needs_datasets("fake_1000.csv")
    folder = tmp_path_factory.mktemp("fake_1000")
    _write_fake_1000(folder / "fake_1000.csv")
    rules = RulesBundle.load(DEFAULT_RULES, mappings_dir=REPO / "benchmarks" / "rules")
    reconcile([SourceSpec("fake_1000", folder / "fake_1000.csv")], folder / "s.duckdb", rules)
    return Scored(folder / "s.duckdb")


@pytest.fixture(scope="module")
def febrl3(tmp_path_factory: pytest.TempPathFactory) -> Scored:
    _needs_datasets("febrl3.csv")
    folder = tmp_path_factory.mktemp("febrl3")
    _write_febrl3(folder / "febrl3.csv")
    rules = RulesBundle.load(FEBRL_RULES, mappings_dir=REPO / "benchmarks" / "rules")
    reconcile([SourceSpec("febrl3", folder / "febrl3.csv")], folder / "s.duckdb", rules)
    return Scored(folder / "s.duckdb")


def _assert_reproduces(
    scored: Scored, scorer: Scorer, pairs: list[tuple[Any, ...]] | None = None
) -> None:
    """Every pair at the levels DuckDB's SQL gives it, its weight within TOLERANCE."""
    for uid_l, uid_r, weight, probability in pairs or scored.pairs:
        score = scorer.score(scored.rows[uid_l], scored.rows[uid_r])
        assert score.gammas == scored.gammas[(uid_l, uid_r)], (uid_l, uid_r)
        assert abs(score.match_weight - weight) < TOLERANCE, (uid_l, uid_r)
        assert abs(score.match_probability - probability) < TOLERANCE, (uid_l, uid_r)


@pytest.mark.parametrize("dataset", ["fake_1000", "febrl3"])
def test_scorer_reproduces_splink_predict(dataset: str, request: pytest.FixtureRequest) -> None:
    scored: Scored = request.getfixturevalue(dataset)
    scorer = Scorer(scored.model, scored.tf())
    assert len(scored.pairs) > 1000
    _assert_reproduces(scored, scorer)
    # The term-frequency adjustment is exercised: without it the weights differ.
    pairs = [(scored.rows[left], scored.rows[right], w) for left, right, w, _ in scored.pairs]
    adjusted = sum(
        any(h.tf_adjustment for h in scorer.score(a, b).comparisons) for a, b, _ in pairs
    )
    assert adjusted > len(pairs) / 2
    plain = Scorer(scored.model)
    assert any(abs(plain.score(a, b).match_weight - w) > 1 for a, b, w in pairs)


def test_values_without_a_frequency_get_no_adjustment(fake_1000: Scored) -> None:
    """With a lookup that lacks some names, splink and the scorer both leave those
    names unadjusted."""
    from splink import DuckDBAPI, Linker

    full = fake_1000.tf()
    kept = dict(sorted(full["first_name"].items())[::2])
    frame = pd.DataFrame({"first_name": list(kept), "tf_first_name": list(kept.values())})
    con = fake_1000.con
    con.register("partial_frame", frame)
    con.execute("CREATE OR REPLACE TABLE partial_tf AS SELECT * FROM partial_frame").fetchall()
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("work"), fake_1000.model.settings, log_level=logging.ERROR)
    linker.table_management.register_term_frequency_lookup(
        db_api.register("partial_tf"), "first_name"
    )
    predictions = linker.inference.predict()
    pairs = con.execute(
        f"SELECT uid_l, uid_r, match_weight, match_probability FROM {predictions.physical_name}"
    ).fetchall()
    scorer = Scorer(fake_1000.model, {**full, "first_name": kept})
    _assert_reproduces(fake_1000, scorer, pairs)
    dropped = set(full["first_name"]) - set(kept)
    assert any(fake_1000.rows[left]["first_name"] in dropped for left, *_ in pairs)


def test_untrained_levels_take_splinks_defaults() -> None:
    from splink.internals.comparison_level import _default_m_values, _default_u_values

    for levels in range(2, 12):
        assert default_m(levels) == _default_m_values(levels)
        assert default_u(levels) == _default_u_values(levels)


@pytest.mark.parametrize(
    "weight", [-40.0, -3.5, -1e-9, 0.0, 1e-9, 2.25, 40.0], ids=lambda w: f"w={w}"
)
def test_match_probability_is_splinks(weight: float) -> None:
    """splink's expression: 1 / (1 + 2^-w) for w >= 0, else 2^w / (1 + 2^w)."""
    w = "$1::DOUBLE"
    sql = (
        f"SELECT CASE WHEN {w} >= 0 THEN 1.0 / (1.0 + POWER(2::DOUBLE, -{w})) "
        f"ELSE POWER(2::DOUBLE, {w}) / (1.0 + POWER(2::DOUBLE, {w})) END"
    )
    row = duckdb.connect().execute(sql, [weight]).fetchone()
    assert row is not None and match_probability(weight) == row[0]


# --- (b) every level's predicate agrees with DuckDB -------------------------------------

#: Every comparison kind with every option, beside the shipped rules.
EXTRA_COMPARISONS = [
    {"kind": "name", "column": "middle_name", "phonetic": False, "jaro_winkler": [0.7, 0.95],
     "initials": True, "also_match": ["first_name", "last_name"], "label": "middle"},
    {"kind": "date", "column": "date_of_birth", "typo": False, "within_years": [5, 1],
     "label": "dob_loose"},
    {"kind": "email", "name_like_level": False, "jaro_winkler": [0.8, 0.95], "label": "mail"},
    {"kind": "phone", "last_digits": False, "label": "tel"},
    {"kind": "location", "address": None, "label": "where", "term_frequency": False},
    {"kind": "location", "postcode": None, "label": "street"},
    {"kind": "exact", "column": "gender", "term_frequency": True, "label": "sex"},
    {"kind": "string", "column": "city", "jaro_winkler": [], "label": "town"},
    {"kind": "identifier", "column": "postcode", "max_edits": [2, 1], "term_frequency": True,
     "label": "code"},
]  # fmt: skip


COMPARISONS = [
    compile_levels(comparison)
    for comparison in [
        *load_match_rules(DEFAULT_RULES).comparisons,
        *load_match_rules(FEBRL_RULES).comparisons,
        *(TypeAdapter(Comparison).validate_python(c) for c in EXTRA_COMPARISONS),
    ]
]
#: Every distinct level condition, with the name of a comparison having it.
LEVELS: list[tuple[str, CompiledLevel]] = list(
    {
        level.condition.sql: (compiled.name, level)
        for compiled in reversed(COMPARISONS)
        for level in compiled.levels
        if level.condition.sql != "ELSE"
    }.values()
)
COLUMNS = sorted(
    {
        column
        for _, level in LEVELS
        for column in re.findall(r'"([A-Za-z0-9_]+)_[lr]"', level.condition.sql)
    }
)
TYPES = {
    "first_name_variants": "VARCHAR[]",
    "middle_name_variants": "VARCHAR[]",
    "email_name_like": "BOOLEAN",
}

any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=9)
names = st.sampled_from(
    ["john", "jon", "johnathan", "jonathon", "j", "jo", "", " ", "é", "e\u0301", "mary ann",
     "smith", "smyth", "martha", "marhta", "日本", "日本語", "baaaabbbba", "bbaaaabbbaba",
     "aisyrvyjmu", "amisvyrvyjmu", "abbb", "aabba", "SW1A 1AA", "SW1A 1AB", "07700900123",
     "0900123"]
)  # fmt: skip
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        ["1980-01-01", "1980-01-10", "1980-10-01", "1981-01-01", "1979-12-31", "1980-12-31",
         "1981-12-31", "1980-02-29", "1981-02-29", "1980-13-01", "1980-00-01", "1980-01-32",
         "0000-01-01", "1980-1-1", "1980/01/01", " 1980-01-01", "1980-01-01 10:00:00",
         "1980-01-01x", "19800101", "epoch", "infinity", "-infinity", "", "1980-01"]
    ),
    st.text("0123456789-/ ", max_size=11),
    any_text,
)  # fmt: skip


@st.composite
def record_pairs(draw: st.DrawFn) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of records whose values come from a few words and dates drawn per example,
    so that values often agree within and across columns (swapped names, initials)."""
    word = st.one_of(
        st.none(),
        st.sampled_from(draw(st.lists(st.one_of(names, any_text), min_size=1, max_size=4))),
    )
    day = st.one_of(st.none(), st.sampled_from(draw(st.lists(dates, min_size=1, max_size=3))))
    values: dict[str, st.SearchStrategy[Any]] = {column: word for column in COLUMNS}
    values.update(date_of_birth=day, email_name_like=st.one_of(st.none(), st.booleans()))
    for column, kind in TYPES.items():
        if kind == "VARCHAR[]":
            values[column] = st.one_of(st.none(), st.lists(word, max_size=3))
    record = st.fixed_dictionaries(values)
    return draw(st.lists(st.tuples(record, record), min_size=1, max_size=8))


def _duckdb_select(
    con: duckdb.DuckDBPyConnection,
    expressions: list[str],
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> list[list[Any]]:
    """Each expression for each pair (as "<column>_l" and "<column>_r"), by DuckDB."""
    names = [f'"{column}_{side}"' for column in COLUMNS for side in ("l", "r")]
    row = "(" + ", ".join(f"?::{TYPES.get(c, 'VARCHAR')}" for c in COLUMNS for _ in "lr") + ")"
    sql = (
        f"SELECT {', '.join(expressions)} "
        f"FROM (VALUES {', '.join([row] * len(pairs))}) AS t({', '.join(names)})"
    )
    params = [side[c] for left, right in pairs for c in COLUMNS for side in (left, right)]
    return [list(result) for result in con.execute(sql, params).fetchall()]


def _duckdb_conditions(
    con: duckdb.DuckDBPyConnection, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> list[list[bool]]:
    """Each level's SQL condition for each pair, as DuckDB finds it (NULL as false)."""
    tests = [f"coalesce(({level.condition.sql}), false)" for _, level in LEVELS]
    return _duckdb_select(con, tests, pairs)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@settings(max_examples=120)
@given(pairs=record_pairs())
def test_predicates_agree_with_duckdb(duck: duckdb.DuckDBPyConnection, pairs) -> None:
    expected = _duckdb_conditions(duck, pairs)
    for (left, right), duck_row in zip(pairs, expected, strict=True):
        python_row = [bool(level.condition.test(left, right)) for _, level in LEVELS]
        disagree = [
            (name, level.label, level.condition.sql)
            for (name, level), ours, theirs in zip(LEVELS, python_row, duck_row, strict=True)
            if ours != theirs
        ]
        assert not disagree, (left, right, disagree)


@settings(max_examples=50)
@given(pairs=record_pairs())
def test_level_of_is_the_case_duckdb_picks(duck: duckdb.DuckDBPyConnection, pairs) -> None:
    cases = [level_case_sql(compiled.as_splink()) for compiled in COMPARISONS]
    expected = _duckdb_select(duck, cases, pairs)
    for (left, right), gammas in zip(pairs, expected, strict=True):
        assert [c.level_of(left, right).gamma for c in COMPARISONS] == gammas


def test_predicates_agree_on_shared_values(duck: duckdb.DuckDBPyConnection) -> None:
    """Records equal in everything, or in everything but one column, meet the
    conditions DuckDB says they meet."""
    base = {column: "john" for column in COLUMNS}
    base.update(date_of_birth="1980-03-04", email_name_like=False)
    base.update({column: ["john", None] for column in TYPES if TYPES[column] == "VARCHAR[]"})
    pairs = [(base, dict(base))]
    for column in COLUMNS:
        changed = dict(base)
        changed[column] = None
        pairs.append((base, changed))
        pairs.append((changed, base))
    expected = _duckdb_conditions(duck, pairs)
    for (left, right), duck_row in zip(pairs, expected, strict=True):
        assert [bool(level.condition.test(left, right)) for _, level in LEVELS] == duck_row


def _duck_jaro_winkler(con: duckdb.DuckDBPyConnection, a: str, b: str) -> float:
    row = con.execute("SELECT jaro_winkler_similarity(?::VARCHAR, ?::VARCHAR)", [a, b]).fetchone()
    assert row is not None
    return float(row[0])


@settings(max_examples=300)
@given(a=st.one_of(names, any_text), b=st.one_of(names, any_text))
@example(a="", b="")
@example(a="café", b="cafe")
def test_jaro_winkler_is_duckdbs_to_the_bit(duck: duckdb.DuckDBPyConnection, a, b) -> None:
    expected = _duck_jaro_winkler(duck, a, b)
    assert jaro_winkler_similarity(a, b) == expected
    if expected > 0:  # decided exactly at the threshold and one step above it
        assert jaro_winkler_at_least(a, b, expected)
        assert not jaro_winkler_at_least(a, b, math.nextafter(expected, 2.0))


@settings(max_examples=300)
@given(a=st.one_of(names, any_text), b=st.one_of(names, any_text))
@example(a="ca", b="abc")  # true Damerau-Levenshtein 2; the restricted kind says 3
@example(a="536221904", b="536229104")
def test_damerau_levenshtein_is_duckdbs(duck: duckdb.DuckDBPyConnection, a, b) -> None:
    row = duck.execute("SELECT damerau_levenshtein(?::VARCHAR, ?::VARCHAR)", [a, b]).fetchone()
    assert row is not None and damerau_levenshtein(a, b) == row[0]


@pytest.mark.parametrize(
    ("a", "b"),
    [("baaaabbbba", "bbaaaabbbaba"), ("aisyrvyjmu", "amisvyrvyjmu"),
     ("mot pwxatacs", "mtp wxatac"), ("vvdbxhxsfqmc", "vdbxhxsmfc")],
    ids=["abab", "letters", "spaces", "twelve"],
)  # fmt: skip
def test_jaro_winkler_ties_at_a_threshold(duck: duckdb.DuckDBPyConnection, a: str, b: str) -> None:
    """These pairs sit at 0.92 to the last bit: exactly on it where DuckDB's build
    rounds its Winkler step once, a hair below where it rounds twice (rapidfuzz is
    always below). The level must follow the installed DuckDB either way."""
    duck_value = _duck_jaro_winkler(duck, a, b)
    assert duck_value == pytest.approx(0.92, abs=1e-12)
    assert jaro_winkler_at_least(a, b, 0.92) == (duck_value >= 0.92)


@settings(max_examples=200)
@given(text=dates)
def test_date_days_are_duckdbs(duck: duckdb.DuckDBPyConnection, text: str) -> None:
    row = duck.execute(
        "SELECT date_diff('day', DATE '1970-01-01', try_cast(?::VARCHAR AS DATE))", [text]
    ).fetchone()
    assert row is not None and date_days(text) == row[0]


# --- (c) a model whose SQL the rules no longer compile to is refused --------------------


def _untrained_model(rules: MatchRules) -> TrainedModel:
    settings_ = {**splink_settings(rules), "probability_two_random_records_match": 0.001}
    created = "2026-01-01T00:00:00+00:00"
    dumped = rules.model_dump(mode="json")
    return TrainedModel("m-test", rules.fingerprint(), created, settings_, dumped)


def _tampered(change: Callable[[dict[str, Any]], None]) -> TrainedModel:
    model = _untrained_model(load_match_rules(DEFAULT_RULES))
    settings_ = TrainedModel.from_json(model.to_json()).settings
    change(settings_)
    return dataclasses.replace(model, settings=settings_)


def _edit_level(settings_: dict[str, Any]) -> None:
    level = settings_["comparisons"][1]["comparison_levels"][4]
    level["sql_condition"] = level["sql_condition"].replace("0.92", "0.9")


def _drop_level(settings_: dict[str, Any]) -> None:
    del settings_["comparisons"][2]["comparison_levels"][3]


def _rename(settings_: dict[str, Any]) -> None:
    settings_["comparisons"][0]["output_column_name"] = "given_name"


@pytest.mark.parametrize(
    ("change", "message"),
    [(_edit_level, "comparison 'last_name', level 4"),
     (_drop_level, "comparison 'date_of_birth', level 3"),
     (_rename, "has comparisons ['given_name'")],
    ids=["edited-sql", "missing-level", "renamed"],
)  # fmt: skip
def test_tampered_model_is_refused(change, message: str) -> None:
    with pytest.raises(ModelError, match="retrain") as raised:
        Scorer(_tampered(change))
    assert message in str(raised.value)


def test_untampered_model_is_accepted() -> None:
    scorer = Scorer(_untrained_model(load_match_rules(DEFAULT_RULES)))
    assert scorer.tf_columns == ("city", "date_of_birth", "first_name", "last_name")


# --- scoring one record against many ----------------------------------------------------

ALICE = {"first_name": "alice", "last_name": "smith", "date_of_birth": "1980-03-04",
         "email": "alice.smith@mail.com", "email_local": "alice.smith", "email_name_like": True,
         "phone": "+447700900123", "phone_last7": "0900123", "first_name_variants": ["alice"],
         "first_name_phonetic": "ALS", "last_name_phonetic": "SM0", "gender": "f",
         "postcode": "SW1A 1AA", "city": "london", "address_line": "1 high street"}  # fmt: skip


def test_score_candidates_is_score_of_each() -> None:
    scorer = Scorer(
        _untrained_model(load_match_rules(DEFAULT_RULES)), {"first_name": {"alice": 0.01}}
    )
    others = [dict(ALICE, first_name="alicia"), dict(ALICE, date_of_birth=float("nan")),
              {**ALICE, "first_name_variants": np.array(["alice", "ally"])}, {}]  # fmt: skip
    batch = scorer.score_candidates(ALICE, others)
    for candidate, score in zip(others, batch, strict=True):
        single = scorer.score(ALICE, candidate)
        assert score.match_weight == single.match_weight
        assert score.comparisons == single.comparisons
    assert batch[1].comparisons[2].label == "missing"
    assert batch[3].gammas == (-1,) * len(load_match_rules(DEFAULT_RULES).comparisons)
    first = scorer.score(ALICE, ALICE).comparisons[0]
    assert (first.label, first.values["first_name"]) == ("exact", ("alice", "alice"))


def test_tf_adjustment_follows_splinks_formula() -> None:
    """log2(u of the exact level) - log2(the value's frequency); 0 for a value the lookup
    lacks; the frequency floored at tf_minimum_u_value."""
    from splink.internals.comparison_level import _default_u_values

    model = _untrained_model(load_match_rules(DEFAULT_RULES))
    u_exact = _default_u_values(11)[10]  # first_name: eleven levels besides the null level
    scorer = Scorer(model, {"first_name": {"alice": 0.01}})
    hit = scorer.score(ALICE, ALICE).comparisons[0]
    assert (hit.gamma, hit.tf_adjustment) == (10, math.log2(u_exact) - math.log2(0.01))
    assert hit.match_weight == pytest.approx(math.log2(0.95 / u_exact) + hit.tf_adjustment)
    bob = dict(ALICE, first_name="bob")
    assert scorer.score(bob, bob).comparisons[0].tf_adjustment == 0.0
    settings_ = model.settings
    settings_["comparisons"][0]["comparison_levels"][1]["tf_minimum_u_value"] = 0.05
    floored = Scorer(model, {"first_name": {"alice": 0.01}}).score(ALICE, ALICE)
    assert floored.comparisons[0].tf_adjustment == math.log2(u_exact) - math.log2(0.05)


def test_names_swapped_and_mistyped_have_their_own_level() -> None:
    """ "Flockahrt, Jasper" against "Jasper Flockhart": swapped and one name mistyped,
    which the exact swap level misses; a different person is not caught by it."""
    first, last = (compile_levels(c) for c in load_match_rules(DEFAULT_RULES).comparisons[:2])
    left = {"first_name": "flockahrt", "last_name": "jasper"}
    right = {"first_name": "jasper", "last_name": "flockhart"}
    other = {"first_name": "jasmine", "last_name": "fletcher"}
    for compiled in (first, last):
        columns = {
            c for level in compiled.levels for c in re.findall(r'"(\w+)_[lr]"', level.condition.sql)
        }
        blank = dict.fromkeys(columns)
        level = compiled.level_of({**blank, **left}, {**blank, **right})
        assert "swapped" in level.label and "typo" in level.label
        assert "swapped" not in compiled.level_of({**blank, **left}, {**blank, **other}).label


def test_a_name_typed_in_the_other_field_has_its_own_level() -> None:
    """ "Leeds" as the only name, in the first-name field, against "George Leeds" (and
    "George" as the only name, in the last-name field): a level of its own. A record
    holding both names is judged by the other levels."""
    first, last = (compile_levels(c) for c in load_match_rules(DEFAULT_RULES).comparisons[:2])
    george = {"first_name": "george", "last_name": "leeds"}
    cases = [
        (first, {"first_name": "leeds", "last_name": None}, True),
        (first, {"first_name": "leeds", "last_name": "smith"}, False),
        (last, {"first_name": None, "last_name": "george"}, True),
        (last, {"first_name": "george", "last_name": "george"}, False),
    ]
    for compiled, record, misplaced in cases:
        columns = {
            c for level in compiled.levels for c in re.findall(r'"(\w+)_[lr]"', level.condition.sql)
        }
        blank = dict.fromkeys(columns)
        for left, right in (({**blank, **record}, {**blank, **george}),
                            ({**blank, **george}, {**blank, **record})):  # fmt: skip
            label = compiled.level_of(left, right).label
            assert label.startswith("the other's ") == misplaced, (record, label)
