"""Placeholder values found by frequency and treated as missing."""

from __future__ import annotations

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.placeholders import blank_placeholders, blank_placeholders_sql, find_placeholders


def _people(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date_of_birth": [
                f"19{50 + i % 40:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)
            ],
            "email": [f"person{i}@mail.com" for i in range(n)],
            "phone": [f"+4477009{i:05d}" for i in range(n)],
            "dob_year": [None] * n,
            "email_local": [None] * n,
            "email_name_like": [False] * n,
            "phone_last7": [None] * n,
        },
        dtype=object,
    )


def test_frequent_values_are_placeholders() -> None:
    frame = _people(2000)
    frame.loc[:99, "date_of_birth"] = "1970-01-01"
    frame.loc[100:159, "email"] = "noreply@shop.com"
    frame.loc[200:229, "phone"] = "+447000000000"
    found = find_placeholders(frame)
    assert found == {
        "date_of_birth": {"1970-01-01"},
        "email": {"noreply@shop.com"},
        "phone": {"+447000000000"},
    }
    epoch = int((frame["date_of_birth"] == "1970-01-01").sum())  # >= the 100 set above
    cleaned, counts = blank_placeholders(frame)
    assert counts == {"date_of_birth": epoch, "email": 60, "phone": 30}
    assert cleaned["date_of_birth"].isna().sum() == epoch
    assert frame["date_of_birth"].isna().sum() == 0  # the input is not modified


def test_shared_household_values_are_not_placeholders() -> None:
    frame = _people(2000)
    frame.loc[:5, "phone"] = "+441632960000"  # a family landline on six records
    frame.loc[:3, "email"] = "family@mail.com"
    assert find_placeholders(frame) == {}
    assert blank_placeholders(frame)[1] == {}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(200, 1500),
    st.lists(
        st.tuples(
            st.sampled_from(["date_of_birth", "email", "phone"]),
            st.integers(0, 1499),
            st.integers(1, 120),
        ),
        max_size=6,
    ),  # fmt: skip
)
def test_the_duckdb_version_blanks_what_the_frame_version_blanks(n, repeats) -> None:
    """Bulk runs blank placeholders in DuckDB (the records do not fit in memory); they
    must find and blank exactly what the in-memory version does."""
    frame = _people(n)
    frame["dob_year"] = frame["date_of_birth"].str[:4]
    frame["email_name_like"] = True
    for column, start, length in repeats:
        value = {"date_of_birth": "1970-01-01", "email": "x@y.com", "phone": "+447000000000"}
        frame.loc[start : start + length, column] = value[column]
    expected, counts = blank_placeholders(frame)
    with duckdb.connect() as con:
        con.register("frame", frame.assign(_row=range(len(frame))))
        con.execute(
            "CREATE TABLE t AS SELECT * REPLACE (email_name_like::BOOLEAN AS email_name_like) "
            "FROM frame"
        ).fetchall()
        assert blank_placeholders_sql(con, "t") == counts
        got = con.execute("SELECT * EXCLUDE (_row) FROM t ORDER BY _row").df()
    got = got.astype(object).where(got.notna(), None)
    expected = expected.astype(object).where(expected.notna(), None)
    assert got.to_dict("records") == expected.to_dict("records")


def test_birth_years_kept_on_the_first_of_january_are_not_placeholders() -> None:
    """Registers that know only the year write it as 1 January: one such date per year,
    each frequent. They are coarse dates, not a system's default, and are kept; the
    epoch beside them is still a placeholder, and so is a frequent other date."""
    frame = _people(3000)
    for i, year in enumerate(range(1850, 1856)):
        frame.loc[100 * i : 100 * i + 79, "date_of_birth"] = f"{year}-01-01"
    frame.loc[700:799, "date_of_birth"] = "1970-01-01"
    frame.loc[900:999, "date_of_birth"] = "1988-06-15"
    assert find_placeholders(frame) == {"date_of_birth": {"1970-01-01", "1988-06-15"}}


def test_a_few_frequent_first_of_januaries_are_still_placeholders() -> None:
    frame = _people(3000)
    for i, year in enumerate(range(1950, 1953)):
        frame.loc[100 * i : 100 * i + 79, "date_of_birth"] = f"{year}-01-01"
    assert find_placeholders(frame) == {"date_of_birth": {"1950-01-01", "1951-01-01", "1952-01-01"}}
