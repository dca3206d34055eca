"""Phone numbers: E.164, placeholders, and the fast path agreeing with phonenumbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.standardise import clean_phone, standardise_phone_column
from mdm.standardise import phones as phones_module
from mdm.standardise._columns import Status
from mdm.standardise.phones import standardise_phone_column_by_region

P = pytest.param

CLEAN_CASES = [
    P("07700 900123", "GB", "+447700900123", id="uk-mobile-national"),
    P("07700-900-123", "GB", "+447700900123", id="uk-dashes"),
    P("(020) 7946 0000", "GB", "+442079460000", id="uk-landline-brackets"),
    P("+44 (0) 20 7946 0000", "GB", "+442079460000", id="uk-international-with-trunk-zero"),
    P("0044 20 7946 0000", "GB", "+442079460000", id="uk-idd"),
    P("447700900123", "GB", "+447700900123", id="country-code-without-plus"),
    P("7700900123", "GB", "+447700900123", id="lost-leading-zero"),
    P(7700900123.0, "GB", "+447700900123", id="read-as-float"),
    P("020 7946 0000 ext. 123", "GB", "+442079460000", id="extension-dropped"),
    P("020 7946 0000 x12", "GB", "+442079460000", id="x-extension"),
    P("(202) 555-0143", "US", "+12025550143", id="us-national"),
    P("+1 202 555 0143", "GB", "+12025550143", id="us-international-from-gb"),
    P("+33 1 42 68 53 00", "GB", "+33142685300", id="france"),
    P("+39 06 1234 5678", "GB", "+390612345678", id="italy-leading-zero-kept"),
    P("0000000000", "GB", None, id="zeros"),
    P("07777777777", "GB", None, id="national-number-repeated"),
    P("1234567890", "US", None, id="ascending-run"),
    P("0123456789", "GB", None, id="ascending-from-zero"),
    P("9876543210", "US", None, id="descending-run"),
    P("12345", "GB", None, id="too-short"),
    P("077009001234567", "GB", None, id="too-long"),
    P("call me", "GB", None, id="no-digits"),
    P("n/a", "GB", None, id="n/a"),
    P("", "GB", None, id="empty"),
    P(None, "GB", None, id="missing"),
]


@pytest.mark.parametrize(("raw", "region", "expected"), CLEAN_CASES)
def test_clean_phone(raw: object, region: str, expected: str | None) -> None:
    assert clean_phone(raw, region) == expected


def test_unknown_region_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown phone region 'XX'"):
        clean_phone("07700 900123", "XX")


def test_standardise_phone_column() -> None:
    series = pd.Series(["07700 900123", "0000000000", "12345", None, "+44 7700 900123", "x"])
    values, n_invalid = standardise_phone_column(series, "GB")
    assert values.tolist() == ["+447700900123", None, None, None, "+447700900123", None]
    assert n_invalid == 2  # "12345" and "x"; zeros are a placeholder
    assert values.dtype == object


REGIONS = st.sampled_from(["GB", "US", "CA", "DE", "FR", "IT", "AU", "IE", "IN", "JE", "RU", "BR"])
PREFIXES = st.sampled_from(
    ["", "0", "00", "+", "+44", "+1", "+49", "+39", "+7", "44", "1", "011", "+353", "+800", "07"]
)
PHONES = st.builds(lambda p, d: p + d, PREFIXES, st.text("0123456789", min_size=0, max_size=14))
FORMATTED = st.builds(
    lambda number, at, sep: number[:at] + sep + number[at:],
    PHONES,
    st.integers(0, 6),
    st.sampled_from(["", " ", "-", "(", ")", ".", "/", " ext 12", "\u00a0"]),
)


@settings(deadline=None, max_examples=400)
@given(PHONES, REGIONS)
def test_fast_path_agrees_with_phonenumbers(number: str, region: str) -> None:
    fast = phones_module._fast_e164(number, region)
    if fast is not phones_module._UNDECIDED:
        assert fast == phones_module._parse_e164(number, region)


@settings(deadline=None, max_examples=40)
@given(st.lists(st.one_of(FORMATTED, st.text(), st.none()), max_size=30), REGIONS)
def test_column_agrees_with_clean_phone(values: list[str | None], region: str) -> None:
    column, n_invalid = standardise_phone_column(pd.Series(values, dtype=object), region)
    results = [phones_module._classify_phone(value, region) for value in values]
    assert column.tolist() == [value for value, _ in results]
    assert n_invalid == sum(status == 3 for _, status in results)


@settings(deadline=None)
@given(st.one_of(FORMATTED, st.text()), REGIONS)
def test_clean_phone_never_raises_and_is_idempotent(raw: str, region: str) -> None:
    cleaned = clean_phone(raw, region)
    assert clean_phone(cleaned, region) == cleaned
    assert cleaned is None or (cleaned.startswith("+") and cleaned[1:].isdigit())


COUNTRY_CASES = [
    P("1-616-949-4255", "US", "+16169494255", id="us-one-dashes"),
    P("(616) 949-4255", "US", "+16169494255", id="us-parens"),
    P("616.949.4255", "US", "+16169494255", id="us-dots"),
    P("616-949-4255", "US", "+16169494255", id="us-dashes"),
    P("+1 616 949 4255", "US", "+16169494255", id="us-international"),
    P("6169494255", "US", "+16169494255", id="us-plain"),
    P("(416) 555-0199", "CA", "+14165550199", id="ca-parens"),
    P("0412 345 678", "AU", "+61412345678", id="au-mobile"),
    P("(02) 9876 5432", "AU", "+61298765432", id="au-landline"),
    P("030 1234567", "DE", "+49301234567", id="de-berlin"),
    P("0171 1234567", "DE", "+491711234567", id="de-mobile"),
    P("01 42 68 53 00", "FR", "+33142685300", id="fr-paris"),
    P("06 12 34 56 78", "FR", "+33612345678", id="fr-mobile"),
    P("087 123 4567", "IE", "+353871234567", id="ie-mobile"),
    P("1-616-949-4255", "GB", None, id="us-number-read-as-gb-is-impossible"),
]


@pytest.mark.parametrize(("raw", "region", "expected"), COUNTRY_CASES)
def test_clean_phone_per_country(raw: str, region: str, expected: str | None) -> None:
    assert clean_phone(raw, region) == expected


LOCAL_CASES = [
    P("949-4255", "US", Status.LOCAL, id="us-seven-digits"),
    P("9494255", "US", Status.LOCAL, id="us-seven-digits-plain"),
    P("949 4255 ext 12", "US", Status.LOCAL, id="us-seven-digits-extension"),
    P("+1 949 4255", "US", Status.LOCAL, id="us-country-code-without-area-code"),
    P("29460371", "GB", Status.LOCAL, id="gb-eight-digits-local-only"),
    P("949-4255", "FR", Status.INVALID, id="fr-has-no-local-numbers"),
    P("555-5555", "US", Status.PLACEHOLDER, id="us-repeated-digit"),
    P("(616) 949-4255", "US", Status.OK, id="us-full-number"),
    P("9276 5432", "AU", Status.LOCAL, id="au-landline-without-area-code"),
    P("(02) 9276 5432", "AU", Status.OK, id="au-landline-with-area-code"),
    P("946 0123", "GB", Status.LOCAL, id="gb-landline-without-area-code"),
    P("0800 1111", "GB", Status.OK, id="gb-short-freephone-has-its-trunk-zero"),
    P("2345 6781", "IN", Status.LOCAL, id="in-landline-without-std-code"),
]


@pytest.mark.parametrize(("raw", "region", "status"), LOCAL_CASES)
def test_local_numbers_are_neither_numbers_nor_invalid(
    raw: str, region: str, status: Status
) -> None:
    value, found = phones_module._classify_phone(raw, region)
    assert found == status
    assert (value is None) == (status != Status.OK)


def test_column_by_region_reads_each_row_in_its_own_region() -> None:
    series = pd.Series(["(616) 949-4255", "07700 900123", "949-4255", "1-616-949-4255", "x1", None])
    regions = np.array(["US", "GB", "US", "GB", "US", "US"], dtype=object)
    values, counts = standardise_phone_column_by_region(series, regions)
    assert values.tolist() == ["+16169494255", "+447700900123", None, None, None, None]
    assert (counts[Status.OK], counts[Status.LOCAL], counts[Status.INVALID]) == (2, 1, 2)
    assert counts[Status.EMPTY] == 1


@settings(deadline=None, max_examples=100)
@given(st.lists(st.one_of(st.none(), FORMATTED), max_size=12), st.lists(REGIONS, min_size=12))
def test_column_by_region_agrees_with_the_scalar(
    values: list[str | None], regions: list[str]
) -> None:
    rows = np.array(regions[: len(values)], dtype=object)
    out, counts = standardise_phone_column_by_region(pd.Series(values, dtype=object), rows)
    scalar = [phones_module._classify_phone(v, r) for v, r in zip(values, rows, strict=True)]
    assert out.tolist() == [value for value, _ in scalar]
    assert counts.sum() == len(values)
    assert counts[Status.LOCAL] == sum(status == Status.LOCAL for _, status in scalar)
