"""Compile the comparisons of a rules file into levels: SQL for splink, Python for scoring.

Each level owns its SQL condition, the Python predicate that answers the same
question for one pair of records, and the label a user sees in an explanation, so
none of the three can drift from the others. SQL is DuckDB's dialect and refers to
the two records of a pair as ``<column>_l`` and ``<column>_r``; a predicate takes the
two records as mappings (column -> value, None when missing) and is true exactly when
DuckDB would find the SQL true (NULL counts as false). The DuckDB functions the SQL
calls are reproduced in :mod:`mdm.linkage.duckdb_functions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any, NamedTuple

from mdm.linkage.duckdb_functions import (
    damerau_levenshtein,
    date_days,
    jaro_winkler_at_least,
    levenshtein,
    list_has_any,
    substr,
)
from mdm.rules.match import (
    Comparison,
    DateComparison,
    EmailComparison,
    ExactComparison,
    IdentifierComparison,
    LocationComparison,
    NameComparison,
    PhoneComparison,
    StringComparison,
    comparison_name,
)

Record = Mapping[str, Any]
Predicate = Callable[[Record, Record], bool]


@dataclass(frozen=True)
class Condition:
    """A level's condition twice over: DuckDB SQL, and the predicate agreeing with it."""

    sql: str
    test: Predicate


def _and(first: Predicate, second: Predicate) -> Predicate:
    return lambda left, right: first(left, right) and second(left, right)


def _or(first: Predicate, second: Predicate) -> Predicate:
    return lambda left, right: first(left, right) or second(left, right)


def _all(*conditions: Condition) -> Condition:
    return Condition(
        " AND ".join(c.sql for c in conditions), reduce(_and, (c.test for c in conditions))
    )


def _any(*conditions: Condition) -> Condition:
    return Condition(
        " OR ".join(c.sql for c in conditions), reduce(_or, (c.test for c in conditions))
    )


def _grouped(condition: Condition) -> Condition:
    return Condition(f"({condition.sql})", condition.test)


def _q(column: str, side: str) -> str:
    return f'"{column}_{side}"'


def _is_null(column: str) -> Condition:
    return Condition(
        f"{_q(column, 'l')} IS NULL OR {_q(column, 'r')} IS NULL",
        lambda left, right: left[column] is None or right[column] is None,
    )


def _is_null_on(column: str, side: str) -> Condition:
    """The ``side`` ("l" or "r") record has no ``column``."""
    if side == "l":
        return Condition(f"{_q(column, 'l')} IS NULL", lambda left, right: left[column] is None)
    return Condition(f"{_q(column, 'r')} IS NULL", lambda left, right: right[column] is None)


def _eq_across(column: str, other: str) -> Condition:
    """The left record's ``column`` equals the right record's ``other``."""

    def test(left: Record, right: Record) -> bool:
        value = left[column]
        return value is not None and value == right[other]

    return Condition(f"{_q(column, 'l')} = {_q(other, 'r')}", test)


def _eq(column: str) -> Condition:
    return _eq_across(column, column)


def _both(column: str, sql: str, test: Callable[[Any, Any], bool]) -> Condition:
    """A condition on the two values of ``column``, NULL (false) when either is missing."""

    def both(left: Record, right: Record) -> bool:
        a, b = left[column], right[column]
        return a is not None and b is not None and test(a, b)

    return Condition(sql, both)


def _jw_across(column: str, other: str, threshold: float) -> Condition:
    """The left record's ``column`` is at least ``threshold`` Jaro-Winkler-similar to
    the right record's ``other``."""

    def test(left: Record, right: Record) -> bool:  # _both, inlined: this one is hot
        a, b = left[column], right[other]
        return a is not None and b is not None and jaro_winkler_at_least(a, b, threshold)

    return Condition(
        f"jaro_winkler_similarity({_q(column, 'l')}, {_q(other, 'r')}) >= {threshold}", test
    )


def _jw(column: str, threshold: float) -> Condition:
    return _jw_across(column, column, threshold)


def _not_flagged(column: str) -> Condition:
    """The left record's boolean ``column`` is false or missing."""
    return Condition(
        f"NOT coalesce({_q(column, 'l')}, false)", lambda left, right: not left[column]
    )


class _Level(NamedTuple):
    condition: Condition
    label: str
    tf_column: str | None = None
    is_null: bool = False


#: How a level of names found in each other's fields begins (see
#: :func:`mdm.linkage.model.swaps_weigh_no_more_than_agreement`).
SWAPPED_LABEL = "swapped with "
#: The label of a level where one record's only name is the other's name of another
#: field, typed in this one.
MISPLACED_LABEL = "the other's "
#: The label of the level of values that agree exactly.
EXACT_LABEL = "exact"


def _null(*columns: str) -> _Level:
    return _Level(_any(*(_is_null(c) for c in columns)), "missing", is_null=True)


def _level(condition: Condition, label: str, tf_column: str | None = None) -> _Level:
    return _Level(condition, label, tf_column or None)


def _else() -> _Level:
    return _Level(Condition("ELSE", lambda left, right: True), "different")


def _name_levels(c: NameComparison) -> list[_Level]:
    col = c.column
    levels = [_null(col), _level(_eq(col), EXACT_LABEL, col if c.term_frequency else None)]
    if c.variants:
        variants = col + "_variants"
        condition = _both(
            variants,
            f"list_has_any({_q(variants, 'l')}, {_q(variants, 'r')})",
            list_has_any,
        )
        levels.append(_level(condition, "known variant"))
    if c.swapped_with:
        other = c.swapped_with
        swapped = _all(_eq_across(col, other), _eq_across(other, col))
        levels.append(_level(swapped, f"{SWAPPED_LABEL}{other}"))
    for other in c.also_match:
        either = _any(_eq_across(col, other), _eq_across(other, col))
        levels.append(_level(either, f"equals the other's {other}"))
    if c.phonetic:
        levels.append(_level(_eq(col + "_phonetic"), "sounds alike"))
    for threshold in sorted(c.jaro_winkler, reverse=True):
        levels.append(_level(_jw(col, threshold), f"similar (Jaro-Winkler >= {threshold})"))
    if c.swapped_with and c.swapped_jaro_winkler is not None:
        other, threshold = c.swapped_with, c.swapped_jaro_winkler
        swapped = _all(_jw_across(col, other, threshold), _jw_across(other, col, threshold))
        levels.append(_level(swapped, f"{SWAPPED_LABEL}{other}, with a typo"))
    if c.misplaced:
        other = c.misplaced
        shifted = _any(
            _grouped(_all(_eq_across(col, other), _is_null_on(other, "l"))),
            _grouped(_all(_eq_across(other, col), _is_null_on(other, "r"))),
        )
        levels.append(_level(shifted, f"{MISPLACED_LABEL}{other}, alone in this field"))
    if c.initials:
        left, right = _q(col, "l"), _q(col, "r")
        initial = _both(
            col,
            f"(length({left}) = 1 OR length({right}) = 1) AND left({left}, 1) = left({right}, 1)",
            lambda a, b: (len(a) == 1 or len(b) == 1) and a[:1] == b[:1],
        )
        levels.append(_level(initial, "initial agrees"))
    return [*levels, _else()]


def _day_month_swapped(a: str, b: str) -> bool:
    return (
        substr(a, 1, 4) == substr(b, 1, 4)
        and substr(a, 6, 2) == substr(b, 9, 2)
        and substr(a, 9, 2) == substr(b, 6, 2)
    )


def _within_days(days: int) -> Callable[[str, str], bool]:
    def within(a: str, b: str) -> bool:
        first, second = date_days(a), date_days(b)
        return first is not None and second is not None and abs(second - first) <= days

    return within


def _date_levels(c: DateComparison) -> list[_Level]:
    col = c.column
    left, right = _q(col, "l"), _q(col, "r")
    levels = [_null(col), _level(_eq(col), "exact", col if c.term_frequency else None)]
    if c.typo:
        one_digit = _both(
            col, f"levenshtein({left}, {right}) <= 1", lambda a, b: levenshtein(a, b) <= 1
        )
        swapped = _both(
            col,
            f"(substr({left}, 1, 4) = substr({right}, 1, 4) AND "
            f"substr({left}, 6, 2) = substr({right}, 9, 2) AND "
            f"substr({left}, 9, 2) = substr({right}, 6, 2))",
            _day_month_swapped,
        )
        levels.append(_level(_any(one_digit, swapped), "one digit off or day/month swapped"))
    month = _both(
        col,
        f"substr({left}, 1, 7) = substr({right}, 1, 7)",
        lambda a, b: substr(a, 1, 7) == substr(b, 1, 7),
    )
    levels.append(_level(month, "same year and month"))
    for years in sorted(c.within_years):
        near = _both(
            col,
            f"abs(date_diff('day', try_cast({left} AS DATE), try_cast({right} AS DATE))) "
            f"<= {365 * years}",
            _within_days(365 * years),
        )
        levels.append(_level(near, f"within {years} year{'s' if years > 1 else ''}"))
    return [*levels, _else()]


def _email_levels(c: EmailComparison) -> list[_Level]:
    col = c.column
    levels = [_null(col)]
    if c.name_like_level:
        distinctive = _all(_eq(col), _not_flagged("email_name_like"))
        levels.append(_level(distinctive, "exact, distinctive address"))
        levels.append(_level(_eq(col), "exact, address is just the name"))
    else:
        levels.append(_level(_eq(col), "exact"))
    levels.append(_level(_eq("email_local"), "same local part, other domain"))
    for threshold in sorted(c.jaro_winkler, reverse=True):
        levels.append(_level(_jw("email_local", threshold), f"similar local part (>= {threshold})"))
    return [*levels, _else()]


def _phone_levels(c: PhoneComparison) -> list[_Level]:
    levels = [_null(c.column), _level(_eq(c.column), "exact")]
    if c.last_digits:
        levels.append(_level(_eq("phone_last7"), "same last seven digits"))
    return [*levels, _else()]


def _location_levels(c: LocationComparison) -> list[_Level]:
    present = [col for col in (c.address, c.postcode, c.city) if col]
    missing = _all(*(_grouped(_is_null(col)) for col in present))
    levels = [_Level(missing, "missing", is_null=True)]
    a, p, city = c.address, c.postcode, c.city
    if a and p:
        same_address = _grouped(_any(_eq(a), _jw(a, c.address_jaro_winkler)))
        levels.append(_level(_all(_eq(p), same_address), "same address and postcode"))
    if a and city:
        levels.append(_level(_all(_eq(a), _eq(city)), "same address and city"))
    if p:
        levels.append(_level(_eq(p), "same postcode, other address"))
    if city:
        tf = city if c.term_frequency else None
        levels.append(_level(_eq(city), "same city only", tf))
    return [*levels, _else()]


def _exact_levels(c: ExactComparison) -> list[_Level]:
    tf = c.column if c.term_frequency else None
    return [_null(c.column), _level(_eq(c.column), "exact", tf), _else()]


def _string_levels(c: StringComparison) -> list[_Level]:
    tf = c.column if c.term_frequency else None
    levels = [_null(c.column), _level(_eq(c.column), "exact", tf)]
    for threshold in sorted(c.jaro_winkler, reverse=True):
        levels.append(_level(_jw(c.column, threshold), f"similar (Jaro-Winkler >= {threshold})"))
    return [*levels, _else()]


def _within_edits(edits: int) -> Callable[[str, str], bool]:
    """Python's twin of ``damerau_levenshtein(l, r) <= edits``."""
    return lambda a, b: damerau_levenshtein(a, b) <= edits


def _identifier_levels(c: IdentifierComparison) -> list[_Level]:
    col = c.column
    tf = col if c.term_frequency else None
    levels = [_null(col), _level(_eq(col), "exact", tf)]
    for edits in sorted(set(c.max_edits)):
        within = _both(
            col,
            f"damerau_levenshtein({_q(col, 'l')}, {_q(col, 'r')}) <= {edits}",
            _within_edits(edits),
        )
        slips = "one typing slip" if edits == 1 else f"{edits} typing slips"
        levels.append(_level(within, f"within {slips}"))
    return [*levels, _else()]


_COMPILERS: dict[type, Callable[[Any], list[_Level]]] = {
    NameComparison: _name_levels,
    DateComparison: _date_levels,
    EmailComparison: _email_levels,
    PhoneComparison: _phone_levels,
    LocationComparison: _location_levels,
    ExactComparison: _exact_levels,
    StringComparison: _string_levels,
    IdentifierComparison: _identifier_levels,
}


@dataclass(frozen=True)
class CompiledLevel:
    """One level of a comparison: splink's level number (gamma: -1 for the null level,
    then counting down to 0, "different"), its label and its condition."""

    gamma: int
    label: str
    condition: Condition
    tf_column: str | None = None

    @property
    def is_null(self) -> bool:
        """Whether this is the level of pairs missing the compared values."""
        return self.gamma == -1

    def as_splink(self) -> dict[str, Any]:
        """The level as splink's comparison-level dictionary (JSON, no callables)."""
        level: dict[str, Any] = {
            "sql_condition": self.condition.sql,
            "label_for_charts": self.label,
        }
        if self.is_null:
            level["is_null_level"] = True
        if self.tf_column:
            level["tf_adjustment_column"] = self.tf_column
            level["tf_adjustment_weight"] = 1.0
        return level


@dataclass(frozen=True)
class CompiledComparison:
    """A comparison's levels in splink's order (null level first, "different" last)."""

    name: str
    description: str
    levels: tuple[CompiledLevel, ...]

    def level_of(self, left: Record, right: Record) -> CompiledLevel:
        """The first level whose condition the pair meets (as splink's CASE picks it)."""
        for level in self.levels:
            if level.condition.test(left, right):
                return level
        raise AssertionError("unreachable: the last level is ELSE")

    def as_splink(self) -> dict[str, Any]:
        """The splink comparison dictionary."""
        return {
            "output_column_name": self.name,
            "comparison_description": self.description,
            "comparison_levels": [level.as_splink() for level in self.levels],
        }


def compile_levels(comparison: Comparison) -> CompiledComparison:
    """The levels of one comparison of the rules, numbered as splink numbers them."""
    specs = _COMPILERS[type(comparison)](comparison)
    gamma = sum(not spec.is_null for spec in specs)
    levels = []
    for spec in specs:
        if not spec.is_null:
            gamma -= 1
        number = -1 if spec.is_null else gamma
        levels.append(CompiledLevel(number, spec.label, spec.condition, spec.tf_column))
    description = (type(comparison).__doc__ or "").strip().splitlines()[0]
    return CompiledComparison(comparison_name(comparison), description, tuple(levels))


def compile_comparison(comparison: Comparison) -> dict[str, Any]:
    """The splink comparison dictionary for one comparison of the rules."""
    return compile_levels(comparison).as_splink()


def level_case_sql(compiled: dict[str, Any]) -> str:
    """SQL giving splink's level number (gamma) of a compiled comparison for a pair.

    The null level is -1; the other levels count down to 0, the last ("different").
    """
    levels = compiled["comparison_levels"]
    numbered = len([lv for lv in levels if not lv.get("is_null_level")]) - 1
    cases = []
    for level in levels:
        if level.get("is_null_level"):
            cases.append(f"WHEN {level['sql_condition']} THEN -1")
            continue
        if level["sql_condition"] == "ELSE":
            cases.append(f"ELSE {numbered}")
        else:
            cases.append(f"WHEN {level['sql_condition']} THEN {numbered}")
        numbered -= 1
    return "CASE " + " ".join(cases) + " END"


def level_columns(compiled: dict[str, Any]) -> list[str]:
    """The input columns a compiled comparison's levels read."""
    found = set()
    for level in compiled["comparison_levels"]:
        found.update(re.findall(r'"([A-Za-z0-9_]+)_[lr]"', level["sql_condition"]))
    return sorted(found)
