"""Standardising a whole source frame."""

from __future__ import annotations

import pandas as pd
import pytest

from mdm.errors import InputError
from mdm.schema import ATTRIBUTES
from mdm.standardise import (
    DateOrderEvidence,
    StandardiseOptions,
    standardise_frame,
)
from mdm.standardise.locale import LocaleChoice, SourceLocale


def _frame(**columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_splits_full_name_when_parts_are_missing() -> None:
    frame = _frame(
        first_name=[None, "Mary", None],
        last_name=[None, "Smith-Jones", None],
        full_name=["SMITH, JOHN A", None, "Dr. Hans Müller III"],
    )
    out, _ = standardise_frame(frame)
    assert out["first_name"].tolist() == ["john", "mary", "hans"]
    assert out["middle_name"].tolist() == ["a", None, None]
    assert out["last_name"].tolist() == ["smith", "smith jones", "muller"]
    assert out["full_name"].tolist() == ["john a smith", "mary smith jones", "hans muller"]
    assert out["name_suffix"].tolist() == [None, None, "iii"]


def test_parts_win_over_full_name_and_titles_go() -> None:
    frame = _frame(
        first_name=["Dr. José"], middle_name=["A."], last_name=["O'Brien Jr."], full_name=[None]
    )
    out, _ = standardise_frame(frame)
    row = out.iloc[0]
    assert (row.first_name, row.middle_name, row.last_name) == ("jose", "a", "obrien")
    assert (row.full_name, row.name_suffix) == ("jose a obrien", "jr")


def test_every_attribute_is_present_as_object_column_of_str_or_none() -> None:
    frame = _frame(source=["crm", "crm"], record_id=["1", "2"], email=["A@B.com", None])
    frame["loyalty_points"] = [10, 20]
    before = frame.copy()
    out, _ = standardise_frame(frame)
    assert list(out.columns[:3]) == ["source", "record_id", "email"]
    assert set(ATTRIBUTES) | {"name_suffix", "loyalty_points"} <= set(out.columns)
    for name in (*ATTRIBUTES, "name_suffix"):
        assert out[name].dtype == object, name
        assert all(value is None or type(value) is str for value in out[name]), name
    assert out["loyalty_points"].tolist() == [10, 20]
    assert out["city"].tolist() == [None, None]
    pd.testing.assert_frame_equal(frame, before)  # the input is not modified


def test_keeps_index_and_row_order_even_when_repeated() -> None:
    frame = pd.DataFrame(
        {"first_name": ["Ann", None, "Bob"], "full_name": [None, "Cy Dee", None]},
        index=[7, 7, 3],
    )
    out, _ = standardise_frame(frame)
    assert list(out.index) == [7, 7, 3]
    assert out["first_name"].tolist() == ["ann", "cy", "bob"]
    assert out["full_name"].tolist() == ["ann", "cy dee", "bob"]


def test_cleans_every_kind_of_value() -> None:
    frame = _frame(
        gender=["Male", "F", "x"],
        address_line=["10 Downing Street", "Flat 3, 12 Acacia Avenue", None],
        city=["  St. Albans", "LONDON", "n/a"],
        region=["Greater London", None, "Kent"],
        country=["U.K.", "United Kingdom", None],
        email=["MAILTO:Jane@Gmail.com", "noemail@gmail.com", "bad@"],
        phone=["07700 900123", "0000000000", "12345"],
        postcode=["sw1a1aa", "02134-1234", "LONDON"],
        date_of_birth=["1980-03-12", "12 Mar 1980", "31/02/1990"],
    )
    out, report = standardise_frame(frame, StandardiseOptions(date_order="dmy"))
    assert out["gender"].tolist() == ["m", "f", None]
    assert out["address_line"].tolist() == ["10 downing st", "flat 3 12 acacia ave", None]
    assert out["city"].tolist() == ["st albans", "london", None]
    assert out["country"].tolist() == ["u k", "united kingdom", None]
    assert out["email"].tolist() == ["jane@gmail.com", None, None]
    assert out["phone"].tolist() == ["+447700900123", None, None]
    assert out["postcode"].tolist() == ["SW1A 1AA", "02134", None]
    assert out["date_of_birth"].tolist() == ["1980-03-12", "1980-03-12", None]
    assert report.unparseable == {"date_of_birth": 1, "email": 1, "phone": 1, "postcode": 1}


@pytest.mark.parametrize(
    ("dates", "order", "evidence"),
    [
        pytest.param(
            ["25/12/1980", "03/04/1990"], "dmy", DateOrderEvidence("dmy", 1, 0, False), id="dmy"
        ),
        pytest.param(
            ["12/25/1980", "03/04/1990"], "mdy", DateOrderEvidence("mdy", 0, 1, False), id="mdy"
        ),
        pytest.param(["03/04/1990"], "dmy", DateOrderEvidence("dmy", 0, 0, False), id="default"),
    ],
)
def test_auto_date_order(dates: list[str], order: str, evidence: DateOrderEvidence) -> None:
    out, report = standardise_frame(_frame(date_of_birth=dates))
    assert (report.date_order, report.date_order_evidence) == (order, evidence)
    expected = "1990-04-03" if order == "dmy" else "1990-03-04"
    assert out["date_of_birth"].tolist()[-1] == expected


def test_explicit_date_order_wins() -> None:
    out, report = standardise_frame(
        _frame(date_of_birth=["25/12/1980", "03/04/1990"]), StandardiseOptions(date_order="mdy")
    )
    assert (report.date_order, report.date_order_evidence) == ("mdy", None)
    assert report.locale["date_order"] == LocaleChoice("mdy", "configured")
    assert out["date_of_birth"].tolist() == ["1980-12-25", "1990-03-04"]


def test_unparseable_counts_rows_not_distinct_values() -> None:
    frame = _frame(date_of_birth=["31/02/1990", "31/02/1990", "n/a", None, "", "1980-01-01"])
    _, report = standardise_frame(frame)
    assert report.unparseable["date_of_birth"] == 2


def test_phone_region_option() -> None:
    out, _ = standardise_frame(
        _frame(phone=["(202) 555-0143"]), StandardiseOptions(default_region="US")
    )
    assert out["phone"].tolist() == ["+12025550143"]


def test_empty_frame() -> None:
    out, report = standardise_frame(pd.DataFrame({"first_name": pd.Series([], dtype=object)}))
    assert len(out) == 0 and set(ATTRIBUTES) <= set(out.columns)
    assert report.unparseable == {"date_of_birth": 0, "email": 0, "phone": 0, "postcode": 0}


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="date_order"):
        StandardiseOptions(date_order="ymd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown phone region"):
        standardise_frame(_frame(phone=["1"]), StandardiseOptions(default_region="Britain"))


def test_split_keeps_a_given_middle_name() -> None:
    frame = _frame(middle_name=["Ann", None], full_name=["John Paul Smith", "John Paul Smith"])
    out, _ = standardise_frame(frame)
    assert out["middle_name"].tolist() == ["ann", "paul"]


def test_repeated_column_is_an_input_error() -> None:
    frame = pd.DataFrame([["a@b.com", "c@d.com"]], columns=["email", "email"])
    with pytest.raises(InputError, match="'email' appears 2 times"):
        standardise_frame(frame)


def _us_frame() -> pd.DataFrame:
    more = [f"(616) 949-43{i:02}" for i in range(10)]  # detection needs ten numbers
    nothing = [None] * 10
    return _frame(
        phone=["1-616-949-4255", "(616) 949-4255", "616.949.4255", "+1 616 949 4255", "949-4255"]
        + more,
        postcode=["49503-1234", "49503", "2134", "49503", None, *nothing],
        date_of_birth=["03/04/1980", None, None, None, None, *nothing],
        country=[None] * 15,
        region=[None] * 15,
    )


def test_us_source_is_detected_and_reported() -> None:
    out, report = standardise_frame(_us_frame())
    assert out["phone"].tolist()[:5] == ["+16169494255"] * 4 + [None]
    assert out["postcode"].tolist()[:5] == ["49503", "49503", "02134", "49503", None]
    assert out["date_of_birth"].tolist()[0] == "1980-03-04"  # March 4: a US source
    assert report.unparseable["phone"] == 0 and report.local_only == 1
    assert report.locale == {
        "phone_region": LocaleChoice("US", "detected: 93% of 14 numbers valid in US"),
        "postcode_country": LocaleChoice("US", "detected: 67% of postcodes fit US, as its numbers"),
        "date_order": LocaleChoice("mdy", "US writes month first (no date settles it)"),
    }


def test_the_records_own_country_comes_first() -> None:
    frame = _frame(
        phone=["(616) 949-4255", "07400 123456", "0412 345 678", "(416) 555-0199"],
        postcode=["2134", "sw1a1aa", "2000", "k1a0b1"],
        country=["USA", "United Kingdom", None, None],
        region=[None, None, "NSW", "Ontario"],
    )
    out, report = standardise_frame(frame, StandardiseOptions(default_region="GB"))
    assert out["phone"].tolist() == [
        "+16169494255", "+447400123456", "+61412345678", "+14165550199"
    ]  # fmt: skip
    assert out["postcode"].tolist() == ["02134", "SW1A 1AA", "2000", "K1A 0B1"]
    assert report.own_country == {"AU": 1, "CA": 1, "GB": 1, "US": 1}
    assert report.locale["phone_region"] == LocaleChoice("GB", "configured")


def test_a_given_locale_is_used_as_is() -> None:
    us = LocaleChoice("US", "detected: 96% of 200 numbers valid in US")
    options = StandardiseOptions(locale=SourceLocale(us, us))
    out, report = standardise_frame(_frame(phone=["07400 123456", "616-949-4255"]), options)
    assert out["phone"].tolist() == [None, "+16169494255"]
    assert report.locale["phone_region"] is us and report.unparseable["phone"] == 1


def test_uk_default_when_nothing_settles_it() -> None:
    out, report = standardise_frame(_frame(phone=["+44 7400 123456"]))
    assert out["phone"].tolist() == ["+447400123456"]
    assert report.locale["phone_region"] == LocaleChoice(
        "GB", "default: no number settles the region"
    )
