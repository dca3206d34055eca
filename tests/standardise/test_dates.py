"""Dates: written forms, day/month order, column standardising."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.standardise import (
    DateOrderEvidence,
    infer_day_month_order,
    parse_date,
    standardise_date,
    standardise_date_column,
)
from mdm.standardise.dates import choose_day_month_order

P = pytest.param

PARSE_CASES = [
    P("1980-03-12", "dmy", date(1980, 3, 12), id="iso"),
    P("1980-03-12T10:15:00Z", "dmy", date(1980, 3, 12), id="iso-with-time-and-zone"),
    P("1980-03-12 00:00:00", "dmy", date(1980, 3, 12), id="iso-with-midnight"),
    P("1980/03/12", "mdy", date(1980, 3, 12), id="year-first-slashes-ignore-order"),
    P("12/03/1980", "dmy", date(1980, 3, 12), id="slashes-dmy"),
    P("12/03/1980", "mdy", date(1980, 12, 3), id="slashes-mdy"),
    P("12-03-1980", "dmy", date(1980, 3, 12), id="dashes"),
    P("12.03.1980", "dmy", date(1980, 3, 12), id="dots"),
    P("3/4/1980 14:30", "dmy", date(1980, 4, 3), id="single-digits-with-time"),
    P("25/12/1980", "mdy", date(1980, 12, 25), id="only-reading-is-dmy"),
    P("12/25/1980", "dmy", date(1980, 12, 25), id="only-reading-is-mdy"),
    P("19800312", "dmy", date(1980, 3, 12), id="compact"),
    P("12031980", "dmy", date(1980, 3, 12), id="compact-day-first"),
    P("12 Mar 1980", "dmy", date(1980, 3, 12), id="short-month"),
    P("12 March 1980", "dmy", date(1980, 3, 12), id="long-month"),
    P("12th March 1980", "dmy", date(1980, 3, 12), id="ordinal-day"),
    P("12-MAR-80", "dmy", date(1980, 3, 12), id="oracle-style"),
    P("12MAR1980", "dmy", date(1980, 3, 12), id="sas-style"),
    P("Mar 12, 1980", "dmy", date(1980, 3, 12), id="us-month-first"),
    P("March 12 1980", "dmy", date(1980, 3, 12), id="month-first-no-comma"),
    P("Wed, 12 Mar 1980", "dmy", date(1980, 3, 12), id="weekday"),
    P("12/03/80", "dmy", date(1980, 3, 12), id="two-digit-year-1900s"),
    P("12/03/05", "dmy", date(2005, 3, 12), id="two-digit-year-2000s"),
    P("1849-05-01", "dmy", date(1849, 5, 1), id="historical"),
    P("31/02/1990", "dmy", None, id="no-31st-february"),
    P("29/02/1999", "dmy", None, id="not-a-leap-year"),
    P("29/02/2000", "dmy", date(2000, 2, 29), id="leap-year"),
    P("0999-01-01", "dmy", None, id="year-below-1000"),
    P("13/13/1980", "dmy", None, id="two-parts-over-12"),
    P("00/00/0000", "dmy", None, id="zeros"),
    P("1980", "dmy", None, id="year-only"),
    P("Smarch 12 1980", "dmy", None, id="not-a-month"),
    P("n/a", "dmy", None, id="placeholder"),
    P("", "dmy", None, id="empty"),
    P(None, "dmy", None, id="missing"),
    P(date(1980, 3, 12), "dmy", date(1980, 3, 12), id="date-object"),
    P(datetime(1980, 3, 12, 10, 0), "dmy", date(1980, 3, 12), id="datetime-object"),
    P(pd.Timestamp("1980-03-12"), "dmy", date(1980, 3, 12), id="timestamp"),
    P(pd.NaT, "dmy", None, id="nat"),
]


@pytest.mark.parametrize(("raw", "order", "expected"), PARSE_CASES)
def test_parse_date(raw: object, order: str, expected: date | None) -> None:
    assert parse_date(raw, order) == expected  # type: ignore[arg-type]


ORDER_CASES = [
    P(["25/12/1980", "01/02/1990"], DateOrderEvidence("dmy", 1, 0, False), id="day-over-12"),
    P(["12/25/1980", "01/02/1990"], DateOrderEvidence("mdy", 0, 1, False), id="month-first"),
    P(["01/02/1990", "1980-03-12"], DateOrderEvidence("dmy", 0, 0, False), id="no-evidence"),
    P(["25-12-1980", "12.25.1980", "26/1/80"], DateOrderEvidence("dmy", 2, 1, True), id="mixed"),
    P(
        ["12/25/1980", "12/26/1980", "25/12/1980"],
        DateOrderEvidence("mdy", 1, 2, True),
        id="mdy-wins",
    ),
    P([None, float("nan"), "x"], DateOrderEvidence("dmy", 0, 0, False), id="junk-ignored"),
]


@pytest.mark.parametrize(("values", "expected"), ORDER_CASES)
def test_infer_day_month_order(values: list[object], expected: DateOrderEvidence) -> None:
    assert infer_day_month_order(values) == expected


def test_standardise_date_column_counts_unparseable() -> None:
    series = pd.Series(["31/02/1990", "1980-01-01", None, "n/a", "soon", "31/02/1990", ""])
    values, n_unparseable = standardise_date_column(series, "dmy")
    assert values.tolist() == [None, "1980-01-01", None, None, None, None, None]
    assert n_unparseable == 3  # two "31/02/1990" and "soon"; blanks and "n/a" are missing
    assert values.dtype == object


def test_standardise_date_column_uses_order() -> None:
    series = pd.Series(["03/04/1980", "25/04/1980"])
    assert standardise_date_column(series, "mdy")[0].tolist() == ["1980-03-04", "1980-04-25"]


def test_standardise_date_column_accepts_datetimes() -> None:
    series = pd.Series(pd.to_datetime(["1980-03-12", None]))
    values, n_unparseable = standardise_date_column(series, "dmy")
    assert values.tolist() == ["1980-03-12", None] and n_unparseable == 0


def test_standardise_date_column_rejects_unknown_order() -> None:
    with pytest.raises(ValueError, match="'dmy' or 'mdy'"):
        standardise_date_column(pd.Series(["01/02/1990"]), "ymd")  # type: ignore[arg-type]


@given(st.text())
def test_parse_date_never_raises(raw: str) -> None:
    parse_date(raw)
    parse_date(raw, "mdy")


DATES = st.dates(min_value=date(1000, 1, 1), max_value=date(2100, 12, 31))
FORMATS = st.sampled_from(["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y", "%B %d, %Y", "%Y%m%d", "%d.%m.%Y"])


@given(DATES, FORMATS)
def test_written_dates_round_trip(value: date, pattern: str) -> None:
    assert parse_date(value.strftime(pattern), "dmy") == value


@given(st.one_of(st.text(), DATES.map(str)))
def test_standardise_date_is_idempotent(raw: str) -> None:
    once = standardise_date(raw)
    assert standardise_date(once) == once


@pytest.mark.parametrize(
    ("dates", "country", "order", "reason"),
    [
        pytest.param(
            ["03/04/1980", "05/06/1990"], "US", "mdy",
            "US writes month first (no date settles it)", id="us-breaks-a-tie",
        ),
        pytest.param(
            ["03/04/1980"], "GB", "dmy", "GB writes day first (no date settles it)",
            id="gb-breaks-a-tie",
        ),
        pytest.param(
            ["03/04/1980"], None, "dmy", "default: day first (no date settles it)",
            id="no-country",
        ),
        pytest.param(
            ["25/12/1980", "03/04/1980"], "US", "dmy",
            "detected: 0 dates read only month first, 1 only day first", id="values-beat-country",
        ),
        pytest.param(
            ["12/25/1980", "25/12/1980"], "US", "mdy",
            "US writes month first (no date settles it)", id="even-evidence-is-a-tie",
        ),
    ],
)  # fmt: skip
def test_choose_day_month_order(
    dates: list[str], country: str | None, order: str, reason: str
) -> None:
    evidence, why = choose_day_month_order(dates, country)
    assert (evidence.order, why) == (order, reason)
