"""Postcodes: UK, Canadian and US forms, placeholders, districts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.standardise import clean_postcode, postcode_district, standardise_postcode_column
from mdm.standardise.postcodes import repair_postcode, standardise_postcode_column_by_country

P = pytest.param

CLEAN_CASES = [
    P("sw1a1aa", None, "SW1A 1AA", id="uk-compact-lower"),
    P("SW1A 1AA", None, "SW1A 1AA", id="uk-spaced"),
    P(" sw1a-1aa ", None, "SW1A 1AA", id="uk-hyphen"),
    P("M1 1AE", None, "M1 1AE", id="uk-short-outward"),
    P("ec1a1bb", "United Kingdom", "EC1A 1BB", id="uk-with-country"),
    P("GIR 0AA", None, "GIR 0AA", id="girobank"),
    P("ZZ99 3VZ", None, None, id="nhs-no-fixed-abode"),
    P("k1a0b1", None, "K1A 0B1", id="canada"),
    P("02134", None, "02134", id="zip-leading-zero-kept"),
    P("02134-1234", None, "02134", id="zip-plus-4"),
    P("2134", "USA", "02134", id="zip-lost-zero-repaired-for-us"),
    P("2134", None, "2134", id="four-digits-kept-without-country"),
    P("75001", "France", "75001", id="france"),
    P("D02 X285", None, "D02X285", id="eircode"),
    P("1012 AB", None, "1012AB", id="dutch"),
    P("LONDON", None, None, id="no-digit"),
    P("LONDON", "GB", None, id="not-uk-for-gb"),
    P("12345", "GB", None, id="zip-for-gb"),
    P("SW1A 1AA", "US", None, id="uk-for-us"),
    P("00000", None, None, id="zeros"),
    P("XXXX", None, None, id="xs"),
    P("TBC", None, None, id="tbc"),
    P("n/a", None, None, id="n/a"),
    P("", None, None, id="empty"),
    P(None, None, None, id="missing"),
    P(2134.0, None, "2134", id="read-as-float"),
]


@pytest.mark.parametrize(("raw", "country", "expected"), CLEAN_CASES)
def test_clean_postcode(raw: object, country: str | None, expected: str | None) -> None:
    assert clean_postcode(raw, country) == expected


@pytest.mark.parametrize(
    ("postcode", "expected"),
    [
        P("SW1A 1AA", "SW1A", id="uk"),
        P("m11ae", "M1", id="uk-uncleaned"),
        P("K1A 0B1", "K1A", id="canada"),
        P("02134", "021", id="zip"),
        P("75001", "750", id="other"),
        P(None, None, id="missing"),
    ],
)
def test_postcode_district(postcode: str | None, expected: str | None) -> None:
    assert postcode_district(postcode) == expected


def test_standardise_postcode_column() -> None:
    series = pd.Series(["sw1a1aa", "LONDON", None, "00000", "sw1a 1aa", "Ü1234"])
    values, n_invalid = standardise_postcode_column(series)
    assert values.tolist() == ["SW1A 1AA", None, None, None, "SW1A 1AA", "U1234"]
    assert n_invalid == 1


COUNTRIES = st.sampled_from([None, "UK", "GB", "USA", "Canada", "France"])
POSTCODES = st.from_regex(r"[A-Za-z]{0,2}[0-9]{1,5}[ -]?[0-9]?[A-Za-z0-9]{0,4}", fullmatch=True)


@given(st.one_of(st.text(), POSTCODES), COUNTRIES)
def test_clean_postcode_never_raises_and_is_idempotent(raw: str, country: str | None) -> None:
    cleaned = clean_postcode(raw, country)
    assert clean_postcode(cleaned, country) == cleaned
    if cleaned is not None:
        assert cleaned == cleaned.upper() and cleaned.isascii()


BY_COUNTRY = [
    P("49503", "US", "49503", id="us-zip"),
    P("49503-1234", "US", "49503", id="us-zip-plus-4-compares-on-five-digits"),
    P("495031234", "US", "49503", id="us-zip-plus-4-compact"),
    P("2134", "US", "02134", id="us-zip-lost-its-zero"),
    P("501", "US", "00501", id="us-zip-lost-two-zeros"),
    P("SW1A1AA", "GB", "SW1A 1AA", id="gb"),
    P("k1a0b1", "CA", "K1A 0B1", id="ca"),
    P("2000", "AU", "2000", id="au"),
    P("D-10115", "DE", "10115", id="de-with-letter"),
    P("10115", "DE", "10115", id="de"),
    P("F-75001", "FR", "75001", id="fr-with-letter"),
    P("FR 75001", "FR", "75001", id="fr-with-code"),
    P("A-1010", "AT", "1010", id="at-with-letter"),
    P("CH-8001", "CH", "8001", id="ch-with-code"),
    P("K1A 0B1", "US", "K1A 0B1", id="another-countrys-form-is-kept"),
    P("2134", None, "2134", id="no-country-no-repair"),
    P("2134", "AU", "2134", id="au-four-digits-not-a-zip"),
]


@pytest.mark.parametrize(("raw", "country", "expected"), BY_COUNTRY)
def test_column_by_country(raw: str, country: str | None, expected: str) -> None:
    series = pd.Series([raw, None], dtype=object)
    values, n_invalid = standardise_postcode_column_by_country(
        series, np.array([country, country], dtype=object)
    )
    assert values.tolist() == [expected, None] and n_invalid == 0
    assert clean_postcode(repair_postcode(raw, country)) == expected  # the scalar twin


def test_column_by_country_repairs_each_row_for_its_own_country() -> None:
    series = pd.Series(["2134", "2134", "D-10115", "D-10115"], dtype=object)
    countries = np.array(["US", "AU", "DE", None], dtype=object)
    values, _ = standardise_postcode_column_by_country(series, countries)
    assert values.tolist() == ["02134", "2134", "10115", "D10115"]


@given(st.text(max_size=12), st.sampled_from([None, "US", "GB", "DE", "FR", "AT", "CH", "AU"]))
def test_repair_is_idempotent(raw: str, country: str | None) -> None:
    once = repair_postcode(raw, country)
    assert repair_postcode(once, country) == once
