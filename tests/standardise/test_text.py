"""Free text: places, addresses and gender."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.standardise import clean_address, clean_gender, clean_text, fold

P = pytest.param


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        P("  St. Albans ", "st albans", id="period"),
        P("NEWCASTLE-UPON-TYNE", "newcastle upon tyne", id="hyphens"),
        P("Zürich", "zurich", id="umlaut"),
        P("Côte-d'Ivoire", "cote divoire", id="apostrophe"),
        P("n/a", None, id="n/a"),
        P("Unknown", None, id="unknown"),
        P("--", None, id="dashes"),
        P(None, None, id="missing"),
    ],
)
def test_clean_text(raw: object, expected: str | None) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        P("10 Downing Street", "10 downing st", id="street"),
        P("Flat 3, 12 Acacia Avenue", "flat 3 12 acacia ave", id="flat-avenue"),
        P("Apt. 4B, 5 Court Road", "apt 4b 5 ct rd", id="apt-court-road"),
        P("Apartment 2, 1 Mill Lane", "apt 2 1 mill ln", id="apartment"),
        P("7 Orchard Close", "7 orchard cl", id="close"),
        P("9 Park Crescent", "9 park cres", id="crescent"),
        P("3 Market Place", "3 market pl", id="place"),
        P("22 Oak Drive", "22 oak dr", id="drive"),
        P("1 Rue de l'Église", "1 rue de leglise", id="accents"),
        P("Streetly Road", "streetly rd", id="only-whole-words"),
        P("", None, id="empty"),
    ],
)
def test_clean_address(raw: object, expected: str | None) -> None:
    assert clean_address(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        P("M", "m", id="m"),
        P("Male", "m", id="male"),
        P(" man ", "m", id="man"),
        P("Mr.", "m", id="mr"),
        P("f", "f", id="f"),
        P("FEMALE", "f", id="female"),
        P("Woman", "f", id="woman"),
        P("Mrs", "f", id="mrs"),
        P("U", None, id="unknown-code"),
        P("other", None, id="other"),
        P("n/a", None, id="n/a"),
        P(None, None, id="missing"),
    ],
)
def test_clean_gender(raw: object, expected: str | None) -> None:
    assert clean_gender(raw) == expected


@given(st.text())
def test_clean_text_and_address_are_idempotent(raw: str) -> None:
    for clean in (clean_text, clean_address):
        cleaned = clean(raw)
        assert clean(cleaned) == cleaned
        if cleaned is not None:
            assert cleaned == fold(cleaned) and cleaned == " ".join(cleaned.split())
