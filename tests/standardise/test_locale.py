"""A source's locale: its phone region and postcode country, detected or configured."""

from __future__ import annotations

import pandas as pd
import pytest

from mdm.standardise.locale import (
    LocaleChoice,
    decide_source_locale,
    detect_phone_region,
    detect_postcode_country,
    locale_from_report,
    record_countries,
)

P = pytest.param


def _numbers(*templates: str) -> list[str]:
    """Six numbers of each template ("0412 345 6{}"), its last two digits varied."""
    return [template.format(f"{i:02}") for template in templates for i in range(6)]


DETECTIONS = [
    P(_numbers("07400 1234{}", "020 7946 01{}"), "GB", id="gb"),
    P(_numbers("(616) 949-42{}", "1-212-664-76{}", "949-42{}"), "US", id="us-with-local-numbers"),
    P(_numbers("(416) 364-12{}", "604 681 12{}"), "CA", id="ca"),
    P(_numbers("0412 345 6{}", "(02) 9876 54{}"), "AU", id="au"),
    P(_numbers("030 12345{}", "0171 12345{}"), "DE", id="de"),
    P(_numbers("01 42 68 53 {}", "06 12 34 56 {}"), "FR", id="fr"),
    P(_numbers("087 123 45{}", "01 234 56{}"), "IE", id="ie"),
]


@pytest.mark.parametrize(("numbers", "region"), DETECTIONS)
def test_detects_the_region_most_numbers_are_valid_in(numbers: list[str], region: str) -> None:
    found = detect_phone_region(numbers)
    assert found is not None and found.value == region
    assert found.reason.startswith("detected: ") and found.reason.endswith(f"valid in {region}")


@pytest.mark.parametrize(
    "numbers",
    [
        P([], id="no-numbers"),
        P(["+44 7700 900123", "+1 616 949 4255", "0044 20 7946 0123"], id="all-international"),
        P(["call me", "12", "n/a"], id="nothing-valid"),
        P(_numbers("07400 1234{}")[:9], id="too-few-numbers"),
    ],
)
def test_no_detection_without_evidence(numbers: list[str]) -> None:
    assert detect_phone_region(numbers) is None


def test_uk_numbers_do_not_lose_to_a_permissive_region() -> None:
    """Most UK numbers are valid Indian numbers too; the UK, tried first, keeps them
    unless India explains far more (07673... is not a UK number, it is an Indian one)."""
    numbers = _numbers("07400 1234{}", "020 7946 01{}")[:8] + ["07673 221180", "07673 221181"]
    assert detect_phone_region(numbers) == LocaleChoice(
        "GB", "detected: 80% of 10 numbers valid in GB"
    )


def test_configured_region_decides() -> None:
    locale = decide_source_locale("us", ["07700 900123"], ["SW1A 1AA"])
    assert locale.phone_region == locale.postcode_country == LocaleChoice("US", "configured")
    assert locale.country == "US"


def test_records_own_countries_decide_when_numbers_do_not() -> None:
    locale = decide_source_locale(None, ["+16169494255"], ["49503"], {"US": 9, "CA": 1})
    assert locale.phone_region == LocaleChoice(
        "US", "detected: 90% of records with a country name US"
    )
    assert locale.postcode_country.value == "US"


def test_default_is_gb_and_any_postcode_format() -> None:
    locale = decide_source_locale(None, [], [])
    assert locale.phone_region == LocaleChoice("GB", "default: no number settles the region")
    assert locale.postcode_country.value is None
    assert locale.country is None  # a default does not break date ties


@pytest.mark.parametrize(
    ("postcodes", "country", "expected"),
    [
        P(["49503", "49503-1234", "02134"], "US", "US", id="zip-with-us-numbers"),
        P(["10115", "80331"], "DE", "DE", id="five-digits-with-de-numbers"),
        P(["SW1A 1AA", "EC1A 1BB", "ab12 3cd"], None, "GB", id="gb-by-format-alone"),
        P(["K1A 0B1", "M5V 3L9"], "US", "CA", id="ca-format-beats-us-numbers"),
        P(["49503", "10115"], None, None, id="five-digits-alone-settle-nothing"),
        P([], "US", "US", id="no-postcodes-follow-the-numbers"),
    ],
)
def test_detect_postcode_country(
    postcodes: list[str], country: str | None, expected: str | None
) -> None:
    assert detect_postcode_country(postcodes, country).value == expected


def test_record_countries_country_then_region() -> None:
    country = pd.Series(["USA", None, "Atlantis", None, "Deutschland"], dtype=object)
    region = pd.Series([None, "Ontario", "NSW", "Bavaria", "MI"], dtype=object)
    assert record_countries(country, region).tolist() == ["US", "CA", "AU", None, "DE"]


def test_locale_from_report_round_trip() -> None:
    report = {
        "phone_region": {"value": "US", "reason": "detected: 96% of 200 numbers valid in US"},
        "postcode_country": {"value": None, "reason": "default: any format"},
        "date_order": {"value": "mdy", "reason": "configured"},
    }
    locale = locale_from_report(report)
    assert locale is not None
    assert locale.phone_region.value == "US" and locale.postcode_country.value is None
    assert locale_from_report({}) is None
