"""Placeholder values found by frequency and treated as missing."""

from __future__ import annotations

import pandas as pd

from mdm.placeholders import blank_placeholders, find_placeholders


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
