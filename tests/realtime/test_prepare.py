"""prepare_record gives one record exactly what the bulk path gives its row of a frame."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.bulk.load import add_extra_columns
from mdm.generate import SOURCES, GeneratorConfig, generate_sources, sources_us
from mdm.linkage.features import VariantGroups, add_features
from mdm.names.reference import build_variant_groups, load_name_variants
from mdm.realtime.prepare import prepare_record
from mdm.rules.sources import load_source_mapping
from mdm.schema import ATTRIBUTES
from mdm.standardise.frame import StandardiseOptions, StandardiseReport, standardise_frame
from mdm.standardise.locale import LocaleChoice, SourceLocale

REPO = Path(__file__).resolve().parents[2]
SAMPLE_SOURCES = REPO / "mdm" / "data" / "sample" / "sources"
GB = StandardiseOptions(default_region="GB", date_order="dmy")


@pytest.fixture(scope="module")
def groups() -> VariantGroups:
    pairs = load_name_variants()[["name", "variant"]].itertuples(index=False, name=None)
    return build_variant_groups(pairs)


@pytest.fixture(scope="module")
def generated() -> dict[str, pd.DataFrame]:
    return generate_sources(GeneratorConfig(n_records=3000, seed=5))


def bulk_rows(
    frame: pd.DataFrame, options: StandardiseOptions, groups: VariantGroups
) -> tuple[list[dict[str, Any]], StandardiseReport]:
    """The bulk path's rows, with the NaN of pandas string columns read as None."""
    clean, report = standardise_frame(frame, options)
    featured = add_features(clean, groups)
    strings = [c for c, dtype in featured.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    rows = featured.to_dict("records")
    for row in rows:
        for column in strings:
            if pd.isna(row[column]):
                row[column] = None
    return rows, report


def assert_same_row(prepared: dict[str, Any], expected: dict[str, Any]) -> None:
    """Same columns in the same order, same values of the same types."""
    assert list(prepared) == list(expected)
    differences = {
        column: (value, prepared[column])
        for column, value in expected.items()
        if type(value) is not type(prepared[column]) or value != prepared[column]
    }
    assert differences == {}


def schema_frame(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """A generated source in schema columns (its mapping), other columns kept as extras."""
    mapping = load_source_mapping(SAMPLE_SOURCES / f"{source}.yaml")
    frame = raw.rename(columns={column: name for name, column in mapping.columns.items()})
    frame["source"] = pd.Series(source, index=frame.index, dtype=object)
    return frame


@pytest.mark.parametrize("source", SOURCES)
def test_generated_records_equal_the_bulk_rows(
    source: str, generated: dict[str, pd.DataFrame], groups: VariantGroups
) -> None:
    frame = schema_frame(generated[source], source)
    mapping = load_source_mapping(SAMPLE_SOURCES / f"{source}.yaml")
    options = StandardiseOptions(mapping.options.default_region, mapping.options.date_order)
    rows, report = bulk_rows(frame, options, groups)
    # The service reads a source's records in the day/month order its bulk run found.
    recorded = replace(options, date_order=report.date_order)
    unparseable: Counter[str] = Counter()
    for record, expected in zip(frame.to_dict("records"), rows, strict=True):
        prepared = prepare_record(record, recorded, groups)
        assert_same_row(prepared.values, expected)
        unparseable.update(prepared.unparseable)
    assert {name: unparseable[name] for name in report.unparseable} == report.unparseable


BLANKS = ["", "   ", "\t", "n/a", "N/A", "-", "?", "unknown", "null", "NaN", "none"]
NAMES = [
    "José", "Zoë O'Brien-Smith", "  Dr. John A. Smith Jr. ", "SMITH, JOHN A", "Smith Jones, Mary",
    "Smith, Mr John, III", "李小龙", "Łukasz", "Мария Иванова", "محمد علي", "Nguyễn Văn An",
    "van der Berg", "Maria de la Cruz", "'Jack' Smith", "Mr", "mr jr", "III", "Jr.", "O'NEILL",
    "\u2003John\u00a0Smith\u3000", "test", "娜", "J.R.R. Tolkien", "Anne-Marie", "al-Rashid",
    "Ph.D.", "(Bob)", "Jos\ud800",
]  # fmt: skip
DATES = [
    "03/04/1980", "31/02/1980", "12/25/1980", "25/12/1980", "1980-02-29", "1981-02-29",
    "12 Mar 1980", "Mar 12, 1980", "12th March 80", "19800412", "04121980", "0412198",
    "1980-04-12T10:00:00Z", "Mon, 12 March 1980", "0000-00-00", "1900-01-01", "12/03/05",
    "12-03/1980", "31.12.1999", "２０１０-01-01", "13/13/1980", "1980/4/3", "sometime",
]  # fmt: skip
EMAILS = [
    "James.Lewis+tag@Example.co.uk", "mailto:Jane@Gmail.com", "<bob@x.org>", "noemail@gmail.com",
    "a@b.test", "josé@x.com", "no at sign", "first.last@sub.domain.io", "x@y", "jane@example.com",
    "  JANE.DOE@GMAIL.COM ", "jane..doe@gmail.com", "jane@gmail.com.", "n.a@hotmail.com",
    "james1980@yahoo.co.uk", "j.smith@btinternet.com", "\x1cjane@gmail.com\x1f",
]  # fmt: skip
PHONES = [
    "07700 900123", "+44 7700 900123", "(202) 555-0143 ext. 12", "0000000000", "1234567890",
    "+1-202-555-0143", "00447700900123", "call me", "12345", "07700900123 x12", "+33 1 23 45 67 89",
    "０７７００ ９００１２３", "+447700900123", "020 7946 0958", "+49 30 123456", "(07689) 418465",
    "+0 123 4567", "9876543", "1-616-949-4255", "(616) 949-4255", "616.949.4255",
    "+1 616 949 4255", "949-4255", "+1 949 4255", "0412 345 678", "12345678", "030 1234567",
]  # fmt: skip
POSTCODES = [
    "sw1a1aa", "SW1A 1AA", "ZZ99 3VZ", "02134-1234", "k1a 0b1", "00000", "Ü1234", "TBC", "1",
    "RG14-8BZ", "gir0aa", "ABCDEFGHIJKL", "75008", "2134", "D-10115", "F 75001", "503",
    "49503-1234", "A-1010", "CH-8001",
]  # fmt: skip
PLACES = [
    "London", "São Paulo", "  NEW YORK ", "UK", "München", "Rue de l'Église, 3", "St. Ives",
    "U.S.A.", "Deutschland", "Michigan", "ON", "NSW", "WA", "CA", "England", "fr", "Austria",
]  # fmt: skip
ADDRESSES = ["10 Downing Street", "Flat 3, 12 Acacia Avenue", "1 Avenue Road", "apartment 4b"]
GENDERS = ["Male", "F", "mrs", "other", "M.", "FEMALE", "x"]


def values(examples: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.sampled_from(examples),
        st.sampled_from(BLANKS),
        st.text(max_size=24),
        st.lists(st.sampled_from(examples), min_size=1, max_size=3).map(" ".join),
    )


RECORDS = st.fixed_dictionaries(
    {"record_id": st.text(max_size=8), "source": st.sampled_from(["crm", "api"])},
    optional={
        "first_name": values(NAMES),
        "middle_name": values(NAMES),
        "last_name": values(NAMES),
        "full_name": values(NAMES),
        "date_of_birth": values(DATES),
        "gender": values(GENDERS),
        "email": values(EMAILS),
        "phone": values(PHONES),
        "address_line": values(ADDRESSES),
        "city": values(PLACES),
        "postcode": values(POSTCODES),
        "region": values(PLACES),
        "country": values(PLACES),
        "updated_at": st.none() | st.just("2024-05-01T10:00:00"),
        "loyalty_tier": values(["Gold", "silver"]),
    },
)
US = LocaleChoice("US", "detected: 93% of 400 numbers valid in US")
OPTIONS = st.builds(
    StandardiseOptions,
    default_region=st.sampled_from([None, "GB", "US", "DE", "IN"]),
    date_order=st.sampled_from(["auto", "dmy", "mdy"]),
    locale=st.sampled_from([None, SourceLocale(US, US), SourceLocale(US, LocaleChoice(None, ""))]),
)


@settings(max_examples=400)
@given(record=RECORDS, options=OPTIONS)
def test_messy_record_equals_its_one_row_frame(
    record: dict[str, str | None], options: StandardiseOptions, groups: VariantGroups
) -> None:
    rows, report = bulk_rows(pd.DataFrame([record], dtype=object), options, groups)
    prepared = prepare_record(record, options, groups)
    assert_same_row(prepared.values, rows[0])
    assert prepared.unparseable == tuple(n for n, count in report.unparseable.items() if count)
    assert prepared.date_order == report.date_order
    assert prepared.local_only == (("phone",) if report.local_only else ())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_of_birth", "31/02/1980"),
        ("date_of_birth", "sometime in 1980"),
        ("email", "jane.doe.gmail.com"),
        ("email", "jane@"),
        ("phone", "call me after six"),
        ("phone", "12345"),
        ("postcode", "ABCDEFGHIJKL"),
    ],
    ids=["impossible-date", "words-date", "email-no-at", "email-no-domain", "phone-words",
         "phone-short", "postcode-long"],
)  # fmt: skip
def test_unparseable_value_is_reported_by_name(
    field: str, value: str, groups: VariantGroups
) -> None:
    prepared = prepare_record({"record_id": "1", "source": "api", field: value}, GB, groups)
    assert prepared.unparseable == (field,)
    assert prepared.values[field] is None
    _, report = standardise_frame(pd.DataFrame([{field: value}], dtype=object), GB)
    assert report.unparseable[field] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "noemail@gmail.com"),
        ("email", "jane@example.com"),
        ("phone", "0000000000"),
        ("date_of_birth", "n/a"),
        ("postcode", "TBC"),
        ("email", "   "),
    ],
    ids=["email-placeholder", "email-example-domain", "phone-zeros", "date-na", "postcode-tbc",
         "blank"],
)  # fmt: skip
def test_placeholders_and_blanks_are_missing_not_unparseable(
    field: str, value: str, groups: VariantGroups
) -> None:
    prepared = prepare_record({"record_id": "1", "source": "api", field: value}, GB, groups)
    assert prepared.unparseable == ()
    assert prepared.values[field] is None


def test_every_unparseable_field_is_named_in_schema_order(groups: VariantGroups) -> None:
    record = {"email": "nobody", "date_of_birth": "32/01/1980", "phone": "abc", "first_name": "Jo"}
    prepared = prepare_record({"record_id": "1", "source": "api", **record}, GB, groups)
    assert prepared.unparseable == ("date_of_birth", "email", "phone")
    assert prepared.values["first_name"] == "jo"


@pytest.mark.parametrize(
    ("value", "date_order", "iso", "used"),
    [
        ("03/04/1980", "auto", "1980-04-03", "dmy"),
        ("25/12/1980", "auto", "1980-12-25", "dmy"),
        ("12/25/1980", "auto", "1980-12-25", "mdy"),
        ("1980-12-25", "auto", "1980-12-25", "dmy"),
        (None, "auto", None, "dmy"),
        ("03/04/1980", "dmy", "1980-04-03", "dmy"),
        ("03/04/1980", "mdy", "1980-03-04", "mdy"),
        ("25/12/1980", "mdy", "1980-12-25", "mdy"),
    ],
    ids=["auto-ambiguous-is-day-first", "auto-day-first", "auto-month-first", "auto-iso",
         "auto-missing", "dmy", "mdy", "mdy-unambiguous"],
)  # fmt: skip
def test_day_month_order_is_the_one_row_frames(
    value: str | None, date_order: str, iso: str | None, used: str, groups: VariantGroups
) -> None:
    options = StandardiseOptions(date_order=date_order)  # type: ignore[arg-type]
    prepared = prepare_record({"record_id": "1", "date_of_birth": value}, options, groups)
    assert (prepared.values["date_of_birth"], prepared.date_order) == (iso, used)
    clean, report = standardise_frame(
        pd.DataFrame([{"date_of_birth": value}], dtype=object), options
    )
    assert (clean["date_of_birth"].iloc[0], report.date_order) == (iso, used)


def test_extra_columns_are_cleaned_as_the_bulk_run_cleans_them(groups: VariantGroups) -> None:
    record = {"record_id": "1", "source": "branch", "loyalty_tier": "  GOLD-plus ", "title": "Mrs"}
    compared = ["loyalty_tier", "membership"]
    prepared = prepare_record(record, GB, groups, extra_columns=compared)
    extras = {"loyalty_tier": record["loyalty_tier"], "title": record["title"]}
    work = add_extra_columns(pd.DataFrame({"extra": [json.dumps(extras)]}), compared)
    assert [prepared.values[name] for name in compared] == work[compared].iloc[0].tolist()
    assert prepared.values["loyalty_tier"] == "gold plus"
    assert prepared.values["title"] == "Mrs"  # not compared: passed through as given


def test_every_schema_attribute_is_present(groups: VariantGroups) -> None:
    prepared = prepare_record({"record_id": "1", "source": "api"}, GB, groups)
    assert set(ATTRIBUTES) <= set(prepared.values)
    assert all(prepared.values[name] is None for name in ATTRIBUTES)
    assert prepared.values["email_name_like"] is False


@pytest.fixture(scope="module")
def generated_us() -> dict[str, pd.DataFrame]:
    return generate_sources(GeneratorConfig(n_records=2000, seed=6, locale="us"))


@pytest.mark.parametrize("source", SOURCES)
def test_us_records_equal_the_bulk_rows(
    source: str, generated_us: dict[str, pd.DataFrame], groups: VariantGroups
) -> None:
    """No region configured: the service reads each record in the locale and date order
    the bulk run decided for its source, and gets the bulk row."""
    columns = sources_us.MAPPINGS[source]
    frame = generated_us[source].rename(columns={c: name for name, c in columns.items()})
    frame["source"] = pd.Series(source, index=frame.index, dtype=object)
    rows, report = bulk_rows(frame, StandardiseOptions(), groups)
    assert report.locale["phone_region"].value == "US"
    recorded = StandardiseOptions(
        date_order=report.date_order,  # type: ignore[arg-type]
        locale=SourceLocale(report.locale["phone_region"], report.locale["postcode_country"]),
    )
    unparseable: Counter[str] = Counter()
    local = 0
    for record, expected in zip(frame.to_dict("records"), rows, strict=True):
        prepared = prepare_record(record, recorded, groups)
        assert_same_row(prepared.values, expected)
        unparseable.update(prepared.unparseable)
        local += "phone" in prepared.local_only
    assert {name: unparseable[name] for name in report.unparseable} == report.unparseable
    assert local == report.local_only
