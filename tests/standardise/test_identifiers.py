"""National identifiers: one value however it is written; fillers are missing."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.standardise.identifiers import clean_national_id, standardise_national_id_column

P = pytest.param


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        P("536-22-1904", "536221904", id="ssn-dashes"),
        P(" 536 22 1904 ", "536221904", id="ssn-spaces"),
        P(123456780, "123456780", id="a-number"),
        P(5301946.0, "5301946", id="a-number-read-as-float"),
        P("sj 69 89 09 d", "SJ698909D", id="nino-lower-case"),
        P("SJ-698909-D", "SJ698909D", id="nino-dashes"),
        P("AA 00 00 00 A", None, id="nino-filler"),
        P("QQ 12 34 56 C", None, id="nino-printed-example"),
        P("850709-9805", "8507099805", id="personnummer"),
        P("000-00-0000", None, id="zeros"),
        P("999999999", None, id="nines"),
        P("123456789", None, id="counting-run"),
        P("987654321", None, id="counting-down"),
        P("1234", None, id="too-short"),
        P("n/a", None, id="marker"),
        P("unknown", None, id="unknown"),
        P("", None, id="empty"),
        P(None, None, id="missing"),
        P("×÷–", None, id="no-letters-or-digits"),
    ],
)
def test_clean_national_id(raw: object, expected: str | None) -> None:
    assert clean_national_id(raw) == expected


@given(st.one_of(st.none(), st.text(max_size=20), st.integers(min_value=0, max_value=10**12)))
def test_cleaning_is_idempotent_and_upper_case_alphanumeric(raw: object) -> None:
    cleaned = clean_national_id(raw)
    if cleaned is not None:
        assert cleaned.isascii() and cleaned.isalnum() and cleaned == cleaned.upper()
        assert clean_national_id(cleaned) == cleaned


def test_the_column_is_the_scalar_per_row() -> None:
    raw = pd.Series(
        ["536-22-1904", None, 123456780, "000000000", "536 22 1904"], index=[5, 6, 7, 8, 9]
    )
    cleaned = standardise_national_id_column(raw)
    assert list(cleaned.index) == [5, 6, 7, 8, 9]
    assert cleaned.tolist() == [clean_national_id(v) for v in raw.tolist()]
