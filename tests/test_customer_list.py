"""The steward's customer list: find customers by any attribute, partly or with a typo,
filter them, and export every one found (the business user's "all our customers in
SP16 with no email", without SQL)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from mdm.errors import InputError
from mdm.workbench import CustomerQuery, export_customers, find_customers


def _ids(rows: list[dict]) -> set[str]:
    return {row["golden_id"] for row in rows}


def _someone(store) -> dict:
    row = store.execute(
        "SELECT golden_id, first_name, last_name, postcode, email FROM golden "
        "WHERE status = 'active' AND last_name IS NOT NULL AND length(last_name) >= 6 "
        "AND postcode IS NOT NULL ORDER BY golden_id LIMIT 1"
    ).fetchall()[0]
    return dict(zip(("golden_id", "first", "last", "postcode", "email"), row, strict=True))


def test_names_partly_in_any_case_and_with_a_typo(store) -> None:
    person = _someone(store)
    for text in (person["last"][:4].upper(), f"{person['first']} {person['last']}"):
        found, total = find_customers(store, CustomerQuery(text))
        assert person["golden_id"] in _ids(found) and total >= 1
    typo = person["last"][:-2] + person["last"][-1] + person["last"][-2]  # swapped end
    found, _ = find_customers(store, CustomerQuery(typo))
    assert person["golden_id"] in _ids(found)


def test_every_row_holds_what_was_asked(store) -> None:
    postcode = store.execute(
        "SELECT min(postcode) FROM golden WHERE status = 'active' AND email IS NULL "
        "AND postcode LIKE '% %'"
    ).fetchall()[0][0]
    district = postcode.split()[0]
    query = CustomerQuery(postcode=district, missing=("email",))
    found, total = find_customers(store, query, limit=1000)
    assert total == len(found) > 0
    for row in found:
        assert row["postcode"].replace(" ", "").startswith(district) and row["email"] is None
    everyone = store.execute(
        "SELECT count(*) FROM golden WHERE status = 'active' AND email IS NULL AND "
        "replace(postcode, ' ', '') LIKE ? || '%'",
        [district],
    ).fetchall()[0][0]
    assert total == everyone
    source = store.execute("SELECT min(source) FROM records").fetchall()[0][0]
    from_source, _ = find_customers(store, CustomerQuery(source=source), limit=100)
    held = {
        g for (g,) in store.execute(
            "SELECT DISTINCT golden_id FROM xref WHERE source = ?", [source]
        ).fetchall()
    }  # fmt: skip
    assert _ids(from_source) <= held
    waiting, count = find_customers(store, CustomerQuery(open_tasks=True), limit=1000)
    assert count > 0 and all(row["record_count"] >= 1 for row in waiting)


def test_a_question_that_cannot_be_read_says_so(store) -> None:
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        find_customers(store, CustomerQuery(changed_since="last tuesday"))
    with pytest.raises(InputError, match="is not one of"):
        find_customers(store, CustomerQuery(missing=("shoe_size",)))
    with pytest.raises(InputError, match="at least two characters"):
        find_customers(store, CustomerQuery("x"))
    assert not CustomerQuery().asked()


def test_the_export_holds_every_customer_found(store) -> None:
    person = _someone(store)
    query = CustomerQuery(postcode=person["postcode"].split()[0])
    found, total = find_customers(store, query, limit=100_000)
    text = export_customers(store, query, "csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == total and {r["golden_id"] for r in rows} == _ids(found)
    book = openpyxl.load_workbook(io.BytesIO(export_customers(store, query, "xlsx")))
    sheet = book["customers"]
    assert sheet.max_row == total + 1 and sheet.cell(1, 1).value == "golden_id"
    with pytest.raises(InputError, match="csv or xlsx"):
        export_customers(store, query, "pdf")


def test_a_value_a_spreadsheet_would_run_is_exported_as_text(store) -> None:
    golden_id = _someone(store)["golden_id"]
    store.execute("UPDATE golden SET city = '=HYPERLINK(\"http://x\")' WHERE golden_id = ?",
                  [golden_id])  # fmt: skip
    text = export_customers(store, CustomerQuery(golden_id), "csv").decode("utf-8")
    assert "'=HYPERLINK" in text
