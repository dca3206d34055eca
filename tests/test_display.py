"""Names and addresses are shown as their source record typed them, in proper case where
typed in one case only; the display form always reads back to the matching form."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mdm.display import SHOWN, display_value, proper_case
from mdm.standardise.names import clean_name
from mdm.standardise.text import clean_address, clean_text
from mdm.store.reads import get_golden
from mdm.workbench import CustomerQuery, find_customers, golden_records


def test_a_value_is_shown_as_its_record_typed_it() -> None:
    assert display_value("first_name", "margaret", ["ACC1", "MAR, MARGARET G"]) == "Margaret"
    assert display_value("last_name", "obrien", ["Seán O'Brien"]) == "O'Brien"
    assert display_value("first_name", "sean", ["Seán O'Brien"]) == "Seán"
    assert display_value("address_line", "96 east station rd", ["96 East Station Road"]) == (
        "96 East Station Road"
    )
    assert display_value("city", "bromford", ["bromford"]) == "Bromford"
    # Not found among the record's values: the matching form in proper case.
    assert display_value("last_name", "mcdonald", []) == "McDonald"
    # Other attributes read as they are matched.
    assert display_value("email", "a.b@example.org", ["A.B@Example.org"]) == "a.b@example.org"


def test_proper_case() -> None:
    assert proper_case("ludwig van beethoven") == "Ludwig van Beethoven"
    assert proper_case("smith-jones") == "Smith-Jones"
    assert proper_case("henry viii") == "Henry VIII"
    assert proper_case("12a high st") == "12A High St"
    assert proper_case('=HYPERLINK("http://x")') == '=HYPERLINK("http://x")'


WORD = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzéüñ'-ABCDEFGHIJ")),
    min_size=1,
    max_size=9,
)
TYPED = st.lists(WORD, min_size=1, max_size=4).map(" ".join)


@given(typed=TYPED, other=st.lists(TYPED, max_size=3))
def test_the_display_form_reads_back_to_the_matching_form(typed: str, other: list[str]) -> None:
    for attribute, clean in (
        ("first_name", clean_name),
        ("last_name", clean_name),
        ("city", clean_text),
        ("address_line", clean_address),
    ):
        value = clean(typed)
        if value is None:
            continue
        shown = display_value(attribute, value, [*other, typed])
        assert shown is not None and clean(shown) == value, (attribute, typed, shown)


def test_the_golden_record_and_the_customer_list_show_display_forms(store) -> None:
    golden_id = store.execute(
        "SELECT golden_id FROM golden WHERE status = 'active' AND last_name IS NOT NULL "
        "AND address_line IS NOT NULL ORDER BY golden_id LIMIT 1"
    ).fetchall()[0][0]
    golden = get_golden(store, golden_id)
    assert set(golden["display"]) <= set(SHOWN)
    assert golden["display"]["last_name"] != golden["last_name"]  # "Smith", not "smith"
    assert clean_name(golden["display"]["last_name"]) == golden["last_name"]
    rows, _ = find_customers(store, CustomerQuery(golden_id))
    assert rows[0]["address_line"] == golden["display"]["address_line"]
    assert any(r["last_name"][:1].isupper() for r in golden_records(store, golden_id))
