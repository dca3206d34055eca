"""Derived features agree with the scalar functions they vectorise."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.linkage.features import name_like_emails, postcode_districts
from mdm.standardise.emails import is_name_like_email
from mdm.standardise.names import clean_name
from mdm.standardise.postcodes import clean_postcode, postcode_district

names = st.sampled_from(["james", "lewis", "ann marie", "j", "o", None, "li", "smith"])
locals_ = st.sampled_from(
    ["james.lewis", "jlewis", "lewis.j", "james1980", "bluefox77", "annmarie", "lewisjames",
     "smith+tag", "l.james", "", "x"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(locals_, names, names, st.booleans()), min_size=1, max_size=20))
def test_vectorised_name_like_matches_scalar(rows) -> None:
    emails = [f"{local}@mail.com" if present and local else None for local, _, _, present in rows]
    first = [clean_name(f) if f else None for _, f, _, _ in rows]
    last = [clean_name(s) if s else None for _, _, s, _ in rows]
    vector = name_like_emails(
        pd.Series(emails, dtype=object),
        pd.Series(first, dtype=object),
        pd.Series(last, dtype=object),
    )
    triples = zip(emails, first, last, strict=True)
    scalar = [bool(e) and is_name_like_email(e, f, s) for e, f, s in triples]
    assert vector.tolist() == scalar


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=9)), max_size=10))
def test_postcode_districts_match_scalar(values) -> None:
    cleaned = [clean_postcode(v) for v in values]
    expected = [postcode_district(c) for c in cleaned]
    assert postcode_districts(pd.Series(cleaned, dtype=object)).tolist() == expected


@pytest.mark.parametrize(
    ("postcode", "district"),
    [("SW1A 1AA", "SW1A"), ("RG14 8BZ", "RG14"), ("90210", "902"), (None, None)],
    ids=["london", "reading", "zip", "missing"],
)
def test_postcode_districts(postcode, district) -> None:
    assert postcode_districts(pd.Series([postcode], dtype=object)).tolist() == [district]
