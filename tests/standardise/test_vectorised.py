"""Column standardisers give exactly what their scalar functions give, value by value.

The column functions run Arrow kernels and shortcuts for speed; these properties
are what lets them.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.standardise import (
    clean_address,
    clean_email,
    clean_full_name,
    clean_gender,
    clean_postcode,
    clean_text,
    split_full_name,
    split_full_name_column,
    standardise_address_column,
    standardise_email_column,
    standardise_full_name_column,
    standardise_gender_column,
    standardise_name_column_with_suffix,
    standardise_postcode_column,
    standardise_text_column,
    strip_titles_suffixes,
)
from mdm.standardise.emails import _classify_email
from mdm.standardise.postcodes import _classify_postcode, _country_key

REALISTIC = st.sampled_from(
    [
        "Dr. José Müller Jr.",
        "SMITH, JOHN A",
        "Smith, Mr John, III",
        "mr jr",
        "n/a",
        " N.A. ",
        "Unknown",
        "O'Brien",
        "10 Downing Street",
        "Flat 3, 12 Acacia Avenue",
        "MAILTO:Jane@Gmail.com",
        "no.reply99@shop.co.uk",
        "jane@example.com",
        "a@b.test",
        "josé@x.com",
        "sw1a1aa",
        "ZZ99 3VZ",
        "02134-1234",
        "k1a 0b1",
        "00000",
        "Ü1234",
        "Male",
        "mrs",
        "",
        "   ",
        "\x1cjane@gmail.com\x1f",
        "\u2003John\u00a0Smith\u3000",
    ]
)
NAME_WORDS = st.sampled_from(
    ["John", "MARY", "José", "Anne-Marie", "O'Brien", "'Jack'", "J.", "j.r.", "A", "X", "vi"]
    + ["Mr", "dr.", "Sir", "Jr.", "III", "2nd", "PhD", "van", "der", "al-Rashid", "and", "St.John"]
    + ["李", "Łukasz", "Smith,", "(Bob)", "n/a", "-", "Ph.D.", "Junior", "iv", "Mc", "d'Arcy"]
)
NAMES = st.lists(NAME_WORDS, min_size=1, max_size=6).map(" ".join)
#: "Last, First [Middle]" as upper-case exports write it, and its near misses.
SEPARATORS = st.sampled_from([", ", ",", " , ", ",  ", ", ,"])
SIDE = st.one_of(NAMES, NAMES, st.sampled_from(["", "  "]))
COMMA_NAMES = st.tuples(SIDE, SEPARATORS, SIDE).map("".join)
VALUES = st.lists(
    st.one_of(st.none(), REALISTIC, st.text(), NAMES, COMMA_NAMES, COMMA_NAMES.map(str.upper)),
    max_size=25,
)

# Each example builds two columns and runs the Arrow kernels: fewer, larger examples.
columns = settings(max_examples=40, deadline=None)


def _as_columns(values: list[str | None]) -> list[pd.Series]:
    """The same values as an object column and as a pandas string column."""
    return [pd.Series(values, dtype=object), pd.Series(values, dtype="str")]


def _same_as_scalar(column: Callable[[pd.Series], pd.Series], scalar: Callable[[object], object]):
    def check(values: list[str | None]) -> None:
        for series in _as_columns(values):
            assert column(series).tolist() == [scalar(v) for v in values]

    return check


@columns
@given(VALUES)
def test_text_column(values: list[str | None]) -> None:
    _same_as_scalar(standardise_text_column, clean_text)(values)


@columns
@given(VALUES)
def test_address_column(values: list[str | None]) -> None:
    _same_as_scalar(standardise_address_column, clean_address)(values)


@columns
@given(VALUES)
def test_gender_column(values: list[str | None]) -> None:
    _same_as_scalar(standardise_gender_column, clean_gender)(values)


@columns
@given(VALUES)
def test_name_column(values: list[str | None]) -> None:
    for series in _as_columns(values):
        names, suffixes = standardise_name_column_with_suffix(series)
        expected = [strip_titles_suffixes(v) for v in values]
        assert list(zip(names, suffixes, strict=True)) == expected


@columns
@given(VALUES)
def test_full_name_column(values: list[str | None]) -> None:
    for series in _as_columns(values):
        names, suffixes = standardise_full_name_column(series)
        assert list(zip(names, suffixes, strict=True)) == [clean_full_name(v) for v in values]


@columns
@given(VALUES)
def test_split_full_name_column(values: list[str | None]) -> None:
    for series in _as_columns(values):
        parts = split_full_name_column(series)
        rows = list(parts.itertuples(index=False, name=None))
        expected = [split_full_name(v) for v in values]
        assert rows == [(p.first, p.middle, p.last, p.suffix) for p in expected]


@columns
@given(VALUES)
def test_email_column(values: list[str | None]) -> None:
    for series in _as_columns(values):
        column, n_invalid = standardise_email_column(series)
        assert column.tolist() == [clean_email(v) for v in values]
        assert n_invalid == sum(_classify_email(v)[1] == 3 for v in values)


@columns
@given(VALUES, st.sampled_from([None, "UK", "USA", "Canada", "France"]))
def test_postcode_column(values: list[str | None], country: str | None) -> None:
    for series in _as_columns(values):
        column, n_invalid = standardise_postcode_column(series, country)
        assert column.tolist() == [clean_postcode(v, country) for v in values]
        key = _country_key(country)
        assert n_invalid == sum(_classify_postcode(v, key)[1] == 3 for v in values)


def test_mixed_types_take_the_python_path() -> None:
    series = pd.Series([12, "12 High Street", 3.0, None, float("nan")], dtype=object)
    assert standardise_address_column(series).tolist() == ["12", "12 high st", "3", None, None]
