"""Which country a record's country or region value names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.standardise.countries import country_of, country_of_region, record_country

P = pytest.param

COUNTRIES = [
    P("US", "US", id="iso-us"),
    P("USA", "US", id="alpha3-usa"),
    P("United States", "US", id="name-us"),
    P("U.S.A.", "US", id="dotted-usa"),
    P("u.s.", "US", id="dotted-us-lower"),
    P("United States of America", "US", id="long-name-us"),
    P("UK", "GB", id="uk-is-gb-not-ukraine"),
    P("England", "GB", id="england"),
    P("Great Britain", "GB", id="great-britain"),
    P("GBR", "GB", id="alpha3-gbr"),
    P("Deutschland", "DE", id="deutschland"),
    P("Germany", "DE", id="germany"),
    P("Canada", "CA", id="canada"),
    P("Australia", "AU", id="australia"),
    P("France", "FR", id="france"),
    P("Éire", "IE", id="eire-accented"),
    P("new zealand", "NZ", id="nz-lower"),
    P("ca", "CA", id="iso-ca-is-canada-as-a-country"),
    P("jp", "JP", id="any-iso-code"),
    P("Atlantis", None, id="unknown-name"),
    P("n/a", None, id="missing-marker"),
    P(None, None, id="none"),
]


@pytest.mark.parametrize(("value", "expected"), COUNTRIES)
def test_country_of(value: str | None, expected: str | None) -> None:
    assert country_of(value) == expected


REGIONS = [
    P("MI", "US", id="state-code"),
    P("Michigan", "US", id="state-name"),
    P("CA", "US", id="ca-is-california-as-a-region"),
    P("new york", "US", id="state-lower"),
    P("D.C.", "US", id="dotted-dc"),
    P("Ontario", "CA", id="province-name"),
    P("QC", "CA", id="province-code"),
    P("Québec", "CA", id="province-accented"),
    P("NSW", "AU", id="au-state-code"),
    P("N.S.W.", "AU", id="au-state-dotted"),
    P("Victoria", "AU", id="au-state-name"),
    P("Wales", "GB", id="uk-nation"),
    P("Scotland", "GB", id="uk-nation-scotland"),
    P("WA", None, id="washington-or-western-australia"),
    P("NT", None, id="northwest-or-northern-territory"),
    P("Bavaria", None, id="unknown-region"),
    P(None, None, id="none"),
]


@pytest.mark.parametrize(("value", "expected"), REGIONS)
def test_country_of_region(value: str | None, expected: str | None) -> None:
    assert country_of_region(value) == expected


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        P("Canada", "MI", "CA", id="country-first"),
        P(None, "MI", "US", id="region-when-no-country"),
        P("Atlantis", "Ontario", "CA", id="region-when-country-unknown"),
        P(None, None, None, id="neither"),
    ],
)
def test_record_country(country: str | None, region: str | None, expected: str | None) -> None:
    assert record_country(country, region) == expected


@given(st.text(max_size=30))
def test_names_never_raise_and_give_a_two_letter_code(text: str) -> None:
    for found in (country_of(text), country_of_region(text)):
        assert found is None or (len(found) == 2 and found.isupper())
