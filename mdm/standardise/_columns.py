"""Shared machinery of the standardisers: missing values, outcomes, per-unique mapping.

Every column standardiser cleans each *distinct* value once and maps the results
back onto the rows (``pd.factorize`` then ``take``), so a million-row column
with fifty thousand distinct values costs fifty thousand calls, not a million.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")

#: Lowercased, trimmed values that mean "no value" in any column.
MISSING_MARKERS = frozenset(
    {
        "",
        "n/a",
        "n.a.",
        "n.a",
        "na",
        "#n/a",
        "none",
        "null",
        "nil",
        "nan",
        "unknown",
        "not known",
        "-",
        "--",
        "?",
        ".",
    }
)
_LONGEST_MARKER = max(map(len, MISSING_MARKERS))


class Status(enum.IntEnum):
    """What cleaning made of one raw value."""

    OK = 0
    EMPTY = 1
    PLACEHOLDER = 2
    INVALID = 3
    LOCAL = 4  # a phone number without its area code: missing for matching, not invalid


#: A cleaned value and how it was obtained.
Cleaned = tuple[str | None, Status]

#: Per-distinct-value results: a list, or a numpy object array, of str or None.
Values = Sequence[str | None] | np.ndarray

EMPTY: Cleaned = (None, Status.EMPTY)
PLACEHOLDER: Cleaned = (None, Status.PLACEHOLDER)
INVALID: Cleaned = (None, Status.INVALID)
LOCAL: Cleaned = (None, Status.LOCAL)


def to_text(value: object) -> str | None:
    """Return ``value`` as trimmed text; None when missing, blank or a marker such as "n/a".

    Integral floats (a phone or postcode read as a number) lose their ``.0``.
    """
    if type(value) is str:
        text = value.strip()
    elif value is None or value is pd.NaT:
        return None
    elif isinstance(value, float | np.floating):
        if math.isnan(value) or math.isinf(value):
            return None
        text = str(int(value)) if float(value).is_integer() else str(value)
    elif isinstance(value, str | int | np.integer | date):
        text = str(value).strip()
    else:
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        text = str(value).strip()
    if not text or (len(text) <= _LONGEST_MARKER and text.lower() in MISSING_MARKERS):
        return None
    return text


def apply_unique(series: pd.Series, func: Callable[[Any], T]) -> tuple[np.ndarray, list[T]]:
    """Call ``func`` once per distinct non-missing value of ``series``.

    Returns the factorize codes (-1 for missing) and ``func``'s results in code order.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, [func(value) for value in uniques.tolist()]


def take(codes: np.ndarray, values: Values, index: pd.Index) -> pd.Series:
    """Map per-unique ``values`` back onto rows; missing rows (code -1) become None."""
    lookup = np.empty(len(values) + 1, dtype=object)
    lookup[: len(values)] = np.fromiter(values, dtype=object, count=len(values))
    lookup[-1] = None
    return pd.Series(lookup[codes], index=index, dtype=object)


def standardise_unique(
    series: pd.Series, classify: Callable[[Any], Cleaned]
) -> tuple[pd.Series, np.ndarray]:
    """Standardise a column with ``classify``; return values and row counts per Status."""
    codes, results = apply_unique(series, classify)
    statuses = np.fromiter((status for _, status in results), dtype=np.int8, count=len(results))
    return assemble(codes, [value for value, _ in results], statuses, series.index)


def assemble(
    codes: np.ndarray, values: Values, statuses: np.ndarray, index: pd.Index
) -> tuple[pd.Series, np.ndarray]:
    """Rows from per-unique ``values`` and ``statuses``, and the row count of each Status."""
    row_statuses = np.append(statuses.astype(np.int8), np.int8(Status.EMPTY))[codes]
    counts = np.bincount(row_statuses, minlength=len(Status))
    return take(codes, values, index), counts
