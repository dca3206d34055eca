"""Compile the comparisons of a rules file into splink comparison dictionaries.

Each level owns both its SQL condition and the label a user sees in an
explanation, so the two cannot drift apart. SQL is DuckDB's dialect and refers to
the two records of a pair as ``<column>_l`` and ``<column>_r``.
"""

from __future__ import annotations

import re
from typing import Any

from mdm.rules.match import (
    Comparison,
    DateComparison,
    EmailComparison,
    ExactComparison,
    LocationComparison,
    NameComparison,
    PhoneComparison,
    StringComparison,
    comparison_name,
)

Level = dict[str, Any]


def _q(column: str, side: str) -> str:
    return f'"{column}_{side}"'


def _null(*columns: str) -> Level:
    condition = " OR ".join(f"{_q(c, 'l')} IS NULL OR {_q(c, 'r')} IS NULL" for c in columns)
    return {"sql_condition": condition, "label_for_charts": "missing", "is_null_level": True}


def _level(condition: str, label: str, tf_column: str | None = None) -> Level:
    level: Level = {"sql_condition": condition, "label_for_charts": label}
    if tf_column:
        level["tf_adjustment_column"] = tf_column
        level["tf_adjustment_weight"] = 1.0
    return level


def _else() -> Level:
    return {"sql_condition": "ELSE", "label_for_charts": "different"}


def _eq(column: str) -> str:
    return f"{_q(column, 'l')} = {_q(column, 'r')}"


def _jw(column: str, threshold: float) -> str:
    return f"jaro_winkler_similarity({_q(column, 'l')}, {_q(column, 'r')}) >= {threshold}"


def _name_levels(c: NameComparison) -> list[Level]:
    col = c.column
    levels = [_null(col), _level(_eq(col), "exact", col if c.term_frequency else None)]
    if c.variants:
        condition = f"list_has_any({_q(col + '_variants', 'l')}, {_q(col + '_variants', 'r')})"
        levels.append(_level(condition, "known variant"))
    if c.swapped_with:
        other = c.swapped_with
        condition = f"{_q(col, 'l')} = {_q(other, 'r')} AND {_q(other, 'l')} = {_q(col, 'r')}"
        levels.append(_level(condition, f"swapped with {other}"))
    for other in c.also_match:
        condition = f"{_q(col, 'l')} = {_q(other, 'r')} OR {_q(other, 'l')} = {_q(col, 'r')}"
        levels.append(_level(condition, f"equals the other's {other}"))
    if c.phonetic:
        levels.append(_level(_eq(col + "_phonetic"), "sounds alike"))
    for threshold in sorted(c.jaro_winkler, reverse=True):
        levels.append(_level(_jw(col, threshold), f"similar (Jaro-Winkler >= {threshold})"))
    if c.initials:
        condition = (
            f"(length({_q(col, 'l')}) = 1 OR length({_q(col, 'r')}) = 1) AND "
            f"left({_q(col, 'l')}, 1) = left({_q(col, 'r')}, 1)"
        )
        levels.append(_level(condition, "initial agrees"))
    return [*levels, _else()]


def _date_levels(c: DateComparison) -> list[Level]:
    col = c.column
    left, right = _q(col, "l"), _q(col, "r")
    levels = [_null(col), _level(_eq(col), "exact")]
    if c.typo:
        swapped = (
            f"(substr({left}, 1, 4) = substr({right}, 1, 4) AND "
            f"substr({left}, 6, 2) = substr({right}, 9, 2) AND "
            f"substr({left}, 9, 2) = substr({right}, 6, 2))"
        )
        levels.append(
            _level(
                f"levenshtein({left}, {right}) <= 1 OR {swapped}",
                "one digit off or day/month swapped",
            )
        )
    levels.append(_level(f"substr({left}, 1, 7) = substr({right}, 1, 7)", "same year and month"))
    for years in sorted(c.within_years):
        condition = (
            f"abs(date_diff('day', try_cast({left} AS DATE), try_cast({right} AS DATE))) "
            f"<= {365 * years}"
        )
        levels.append(_level(condition, f"within {years} year{'s' if years > 1 else ''}"))
    return [*levels, _else()]


def _email_levels(c: EmailComparison) -> list[Level]:
    col = c.column
    levels = [_null(col)]
    if c.name_like_level:
        levels.append(
            _level(
                f"{_eq(col)} AND NOT coalesce({_q('email_name_like', 'l')}, false)",
                "exact, distinctive address",
            )
        )
        levels.append(_level(_eq(col), "exact, address is just the name"))
    else:
        levels.append(_level(_eq(col), "exact"))
    levels.append(_level(_eq("email_local"), "same local part, other domain"))
    for threshold in sorted(c.jaro_winkler, reverse=True):
        levels.append(_level(_jw("email_local", threshold), f"similar local part (>= {threshold})"))
    return [*levels, _else()]


def _phone_levels(c: PhoneComparison) -> list[Level]:
    levels = [_null(c.column), _level(_eq(c.column), "exact")]
    if c.last_digits:
        levels.append(_level(_eq("phone_last7"), "same last seven digits"))
    return [*levels, _else()]


def _location_levels(c: LocationComparison) -> list[Level]:
    present = [col for col in (c.address, c.postcode, c.city) if col]
    null_condition = " AND ".join(
        f"({_q(col, 'l')} IS NULL OR {_q(col, 'r')} IS NULL)" for col in present
    )
    levels: list[Level] = [
        {"sql_condition": null_condition, "label_for_charts": "missing", "is_null_level": True}
    ]
    a, p, city = c.address, c.postcode, c.city
    if a and p:
        same_address = f"({_eq(a)} OR {_jw(a, c.address_jaro_winkler)})"
        levels.append(_level(f"{_eq(p)} AND {same_address}", "same address and postcode"))
    if a and city:
        levels.append(_level(f"{_eq(a)} AND {_eq(city)}", "same address and city"))
    if p:
        levels.append(_level(_eq(p), "same postcode, other address"))
    if city:
        tf = city if c.term_frequency else None
        levels.append(_level(_eq(city), "same city only", tf))
    return [*levels, _else()]


def _exact_levels(c: ExactComparison) -> list[Level]:
    tf = c.column if c.term_frequency else None
    return [_null(c.column), _level(_eq(c.column), "exact", tf), _else()]


def _string_levels(c: StringComparison) -> list[Level]:
    tf = c.column if c.term_frequency else None
    levels = [_null(c.column), _level(_eq(c.column), "exact", tf)]
    for threshold in sorted(c.jaro_winkler, reverse=True):
        levels.append(_level(_jw(c.column, threshold), f"similar (Jaro-Winkler >= {threshold})"))
    return [*levels, _else()]


_COMPILERS = {
    NameComparison: _name_levels,
    DateComparison: _date_levels,
    EmailComparison: _email_levels,
    PhoneComparison: _phone_levels,
    LocationComparison: _location_levels,
    ExactComparison: _exact_levels,
    StringComparison: _string_levels,
}


def compile_comparison(comparison: Comparison) -> dict[str, Any]:
    """The splink comparison dictionary for one comparison of the rules."""
    levels = _COMPILERS[type(comparison)](comparison)
    return {
        "output_column_name": comparison_name(comparison),
        "comparison_description": (type(comparison).__doc__ or "").strip().splitlines()[0],
        "comparison_levels": levels,
    }


def tf_columns(comparison: Comparison) -> list[str]:
    """Columns whose term frequencies a comparison uses."""
    levels = _COMPILERS[type(comparison)](comparison)
    return sorted({lv["tf_adjustment_column"] for lv in levels if "tf_adjustment_column" in lv})


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
