"""Dates: many written forms in, ISO ``YYYY-MM-DD`` out.

>>> parse_date("12/03/1980")
datetime.date(1980, 3, 12)
>>> parse_date("12/03/1980", order="mdy")
datetime.date(1980, 12, 3)
>>> parse_date("Mar 12, 1980")
datetime.date(1980, 3, 12)

Placeholder dates ("1900-01-01") parse normally: they are found by frequency later.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

import pandas as pd

from mdm.standardise._columns import EMPTY, INVALID, Cleaned, Status, standardise_unique, to_text

DateOrder = Literal["dmy", "mdy"]

_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}

_TIME = re.compile(
    r"[t ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"  # time of day
    r"\s*(?:am|pm)?\s*(?:z|[+-]\d{2}:?\d{2})?$"  # and zone
)
_WEEKDAY = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*[ ,.]+")
_ISO = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")
_NUMERIC = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})")
_COMPACT = re.compile(r"\d{8}")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)? ?([a-z]{3,9}) ?(\d{4}|\d{2})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]{3,9}) ?(\d{1,2})(?:st|nd|rd|th)? (\d{4}|\d{2})")
_WORD_SEPARATORS = re.compile(r"[\s,./-]+")
_DAY_MONTH_PREFIX = re.compile(r"\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}\b")


@dataclass(frozen=True)
class DateOrderEvidence:
    """Which of day/month comes first in a column's dates, and how sure that is.

    ``n_dmy_evidence`` counts values whose first part is over 12 (only a day can be);
    ``n_mdy_evidence`` those whose second part is. ``ambiguous`` is True when both occur.
    """

    order: DateOrder
    n_dmy_evidence: int
    n_mdy_evidence: int
    ambiguous: bool


def parse_date(value: object, order: DateOrder = "dmy") -> date | None:
    """Parse a date written in any common form; None when it is not a real date.

    ``order`` decides "03/04/1980" (both parts 12 or less); "25/12/1980" and
    "12/25/1980" are read the only way they can be. Two-digit years pivot on the
    current year ("12/03/80" -> 1980, "12/03/05" -> 2005). Years before 1000 are
    rejected.
    """
    if isinstance(value, datetime):
        return None if value is pd.NaT else _checked(value.year, value.month, value.day)
    if isinstance(value, date):
        return _checked(value.year, value.month, value.day)
    text = to_text(value)
    return None if text is None else _parse_text(text.lower(), order)


def _parse_text(text: str, order: DateOrder) -> date | None:
    text = _WEEKDAY.sub("", _TIME.sub("", text)).strip()
    if match := _ISO.fullmatch(text):
        return _checked(int(match[1]), int(match[3]), int(match[4]))
    if match := _NUMERIC.fullmatch(text):
        return _day_month(int(match[1]), int(match[3]), _year(match[4]), order)
    if _COMPACT.fullmatch(text):
        found = _checked(int(text[:4]), int(text[4:6]), int(text[6:]))
        return found or _day_month(int(text[:2]), int(text[2:4]), int(text[4:]), order)
    words = _WORD_SEPARATORS.sub(" ", text).strip()
    if (match := _DAY_MONTH_YEAR.fullmatch(words)) and match[2] in _MONTHS:
        return _checked(_year(match[3]), _MONTHS[match[2]], int(match[1]))
    if (match := _MONTH_DAY_YEAR.fullmatch(words)) and match[1] in _MONTHS:
        return _checked(_year(match[3]), _MONTHS[match[1]], int(match[2]))
    return None


def _day_month(first: int, second: int, year: int, order: DateOrder) -> date | None:
    """Build a date from two leading parts; ``order`` only decides when both could be months."""
    if first > 12 or (second <= 12 and order == "dmy"):
        return _checked(year, second, first)
    return _checked(year, first, second)


def _year(digits: str) -> int:
    """Four-digit years as written; two-digit years pivot on the current year."""
    year = int(digits)
    if len(digits) == 2:
        this_year = date.today().year
        year += 1900 if year > this_year % 100 else 2000
    return year


def _checked(year: int, month: int, day: int) -> date | None:
    if year < 1000:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def infer_day_month_order(values: Iterable[object]) -> DateOrderEvidence:
    """Decide whether numeric dates like "03/04/1980" are day-first or month-first.

    Counts values whose first part is over 12 (day first) or whose second is (month
    first). No evidence means "dmy"; with evidence both ways the majority wins and
    the result is marked ambiguous.
    """
    n_dmy = n_mdy = 0
    for value in values:
        if not isinstance(value, str) or not (match := _DAY_MONTH_PREFIX.match(value)):
            continue
        first, second = int(match[1]), int(match[2])
        if first > 12 >= second:
            n_dmy += 1
        elif second > 12 >= first:
            n_mdy += 1
    order: DateOrder = "mdy" if n_mdy > n_dmy else "dmy"
    return DateOrderEvidence(order, n_dmy, n_mdy, ambiguous=n_dmy > 0 and n_mdy > 0)


#: Countries that write the month first: "03/04/1980" is March 4.
MONTH_FIRST = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "PH", "FM", "MH", "PW"})


def choose_day_month_order(
    values: Iterable[object], country: str | None
) -> tuple[DateOrderEvidence, str]:
    """:func:`infer_day_month_order`, with ``country`` deciding when the values do not.

    Returns the evidence (its ``order`` the one to use) and the reason for the report.
    """
    evidence = infer_day_month_order(values)
    if evidence.n_dmy_evidence != evidence.n_mdy_evidence:
        reason = (
            f"detected: {evidence.n_mdy_evidence} dates read only month first, "
            f"{evidence.n_dmy_evidence} only day first"
        )
        return evidence, reason
    if country is None:
        return evidence, "default: day first (no date settles it)"
    order: DateOrder = "mdy" if country in MONTH_FIRST else "dmy"
    first = "month" if order == "mdy" else "day"
    return replace(evidence, order=order), f"{country} writes {first} first (no date settles it)"


def standardise_date(value: object, order: DateOrder = "dmy") -> str | None:
    """Parse ``value`` (see :func:`parse_date`) and return it as ISO "YYYY-MM-DD"."""
    parsed = parse_date(value, order)
    return None if parsed is None else parsed.isoformat()


def standardise_date_column(series: pd.Series, order: DateOrder = "dmy") -> tuple[pd.Series, int]:
    """Standardise a date column to ISO text; also return how many values did not parse.

    Blank and "n/a"-like values are missing, not unparseable.
    """
    if order not in ("dmy", "mdy"):
        raise ValueError(f"date order must be 'dmy' or 'mdy', not {order!r}")
    values, counts = standardise_unique(series, functools.partial(_classify_date, order=order))
    return values, int(counts[Status.INVALID])


def _classify_date(value: object, order: DateOrder) -> Cleaned:
    """A date as ISO text and how it was read: blanks and "n/a" are EMPTY, not INVALID."""
    if value is pd.NaT or (not isinstance(value, date) and to_text(value) is None):
        return EMPTY
    iso = standardise_date(value, order)
    return INVALID if iso is None else (iso, Status.OK)
