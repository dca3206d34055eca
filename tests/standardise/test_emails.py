"""Email addresses: cleaning, placeholders, name-like local parts."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.standardise import (
    clean_email,
    email_local_part,
    is_name_like_email,
    standardise_email_column,
)

P = pytest.param

CLEAN_CASES = [
    P("James.Lewis@Example.co.uk", "james.lewis@example.co.uk", id="lowercased"),
    P("  jane@gmail.com ", "jane@gmail.com", id="trimmed"),
    P("MAILTO:jane@gmail.com", "jane@gmail.com", id="mailto"),
    P("<jane@gmail.com>", "jane@gmail.com", id="angle-brackets"),
    P("jane@gmail.com;", "jane@gmail.com", id="trailing-semicolon"),
    P("john.smith+shop@gmail.com", "john.smith+shop@gmail.com", id="plus-tag-kept"),
    P("o'brien@mail.ie", "o'brien@mail.ie", id="apostrophe-local"),
    P("12345678@qq.com", "12345678@qq.com", id="digits-only-local"),
    P("jane@gmail", None, id="no-tld"),
    P("jane.gmail.com", None, id="no-at"),
    P("jane@@gmail.com", None, id="two-ats"),
    P("jane smith@gmail.com", None, id="space-inside"),
    P("jane..smith@gmail.com", None, id="double-dot"),
    P("jane@-gmail.com", None, id="domain-starts-with-hyphen"),
    P("josé@gmail.com", None, id="non-ascii"),
    P("a" * 65 + "@gmail.com", None, id="local-too-long"),
    P("noemail@gmail.com", None, id="noemail"),
    P("no.email@gmail.com", None, id="no-dot-email"),
    P("NoReply123@shop.com", None, id="noreply-digits"),
    P("no-reply@shop.com", None, id="no-reply"),
    P("n/a@n/a.com", None, id="n/a-domain-invalid"),
    P("none@none.com", None, id="none"),
    P("x@gmail.com", None, id="single-x"),
    P("jane@example.com", None, id="example-domain"),
    P("jane@test.com", None, id="test-domain"),
    P("jane@shop.test", None, id="reserved-tld"),
    P("n/a", None, id="n/a"),
    P("", None, id="empty"),
    P(None, None, id="missing"),
]


@pytest.mark.parametrize(("raw", "expected"), CLEAN_CASES)
def test_clean_email(raw: object, expected: str | None) -> None:
    assert clean_email(raw) == expected


def test_email_local_part() -> None:
    assert email_local_part("James.Lewis@Gmail.com") == "james.lewis"
    assert email_local_part("not an email") is None


NAME_LIKE_CASES = [
    P("james.lewis@gmail.com", True, id="first.last"),
    P("jameslewis@gmail.com", True, id="firstlast"),
    P("james_lewis1980@gmail.com", True, id="first_last-year"),
    P("lewis.james@gmail.com", True, id="last.first"),
    P("jlewis@gmail.com", True, id="initial-last"),
    P("jamesl@gmail.com", True, id="first-initial"),
    P("lewisj@gmail.com", True, id="last-initial"),
    P("james@gmail.com", True, id="first-only"),
    P("lewis77@gmail.com", True, id="last-and-digits"),
    P("james.lewis+news@gmail.com", True, id="plus-tag"),
    P("jim.lewis@gmail.com", False, id="nickname-is-distinctive"),
    P("dragonfly42@gmail.com", False, id="distinctive"),
    P("not-an-email", False, id="invalid"),
]


@pytest.mark.parametrize(("email", "expected"), NAME_LIKE_CASES)
def test_is_name_like_email(email: str, expected: bool) -> None:
    assert is_name_like_email(email, "James", "Lewis") is expected


def test_is_name_like_email_folds_names() -> None:
    assert is_name_like_email("jose.garcia@x.es", "José", "García")
    assert is_name_like_email("maryann.smithjones@x.com", "Mary-Ann", "Smith Jones")
    assert not is_name_like_email("x1@x.com", None, None)
    assert is_name_like_email("smith@x.com", None, "Smith")


def test_standardise_email_column() -> None:
    series = pd.Series(["A@B.com", "bad@", None, "noemail@x.com", "n/a", "A@B.com", "josé@x.com"])
    values, n_invalid = standardise_email_column(series)
    assert values.tolist() == ["a@b.com", None, None, None, None, "a@b.com", None]
    assert n_invalid == 2  # "bad@" and the non-ASCII address; placeholders are not invalid


@given(st.text())
def test_clean_email_never_raises_and_is_idempotent(raw: str) -> None:
    cleaned = clean_email(raw)
    assert clean_email(cleaned) == cleaned


EMAILS = st.emails().map(lambda e: e.upper() if len(e) % 2 else f" mailto:{e} ")


@given(EMAILS)
def test_clean_email_is_idempotent_on_real_addresses(raw: str) -> None:
    cleaned = clean_email(raw)
    assert clean_email(cleaned) == cleaned
    assert cleaned is None or cleaned == cleaned.lower()
