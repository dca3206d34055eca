"""Recognising the headers people use, choosing between rivals, and the proposed YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdm.headers import SYNONYMS, Basis, map_columns, mapping_yaml, recognise_header
from mdm.rules.sources import MAPPABLE, load_source_mapping

S, Y = Basis.SCHEMA, Basis.SYNONYM

# (header, attribute, basis): every synonym the issue names, in the spellings people use.
HEADERS = [
    ("First Name", "first_name", S), ("first_name", "first_name", S),
    ("FIRST-NAME", "first_name", S), ("FirstName", "first_name", S),
    ("first.name", "first_name", S), (" First  Name ", "first_name", S),
    ("Given name", "first_name", Y), ("GivenName", "first_name", Y),
    ("Forename", "first_name", Y), ("fname", "first_name", Y), ("FNAME", "first_name", Y),
    ("Middle name", "middle_name", S), ("middle-name", "middle_name", S),
    ("Surname", "last_name", Y), ("SURNAME", "last_name", Y), ("Last name", "last_name", S),
    ("LastName", "last_name", S), ("Family name", "last_name", Y),
    ("family_name", "last_name", Y), ("lname", "last_name", Y),
    ("DOB", "date_of_birth", Y), ("D.O.B.", "date_of_birth", Y), ("dob", "date_of_birth", Y),
    ("Date of birth", "date_of_birth", S), ("DateOfBirth", "date_of_birth", S),
    ("Birth date", "date_of_birth", Y), ("birth_date", "date_of_birth", Y),
    ("Birthdate", "date_of_birth", Y),
    ("E-mail", "email", S), ("EMAIL", "email", S), ("Email address", "email", Y),
    ("email_address", "email", Y), ("E-Mail Address", "email", Y),
    ("Tel", "phone", Y), ("TEL.", "phone", Y), ("Telephone", "phone", Y),
    ("Mobile", "phone", Y), ("Cell", "phone", Y), ("Phone number", "phone", Y),
    ("PhoneNumber", "phone", Y), ("phone", "phone", S),
    ("Zip", "postcode", Y), ("ZIP", "postcode", Y), ("Zip code", "postcode", Y),
    ("zip_code", "postcode", Y), ("Post code", "postcode", S), ("post_code", "postcode", S),
    ("Postal code", "postcode", Y), ("PostalCode", "postcode", Y),
    ("Street", "address_line", Y), ("Address", "address_line", Y),
    ("Address 1", "address_line", Y), ("address1", "address_line", Y),
    ("Address line 1", "address_line", Y), ("ADDRESS_LINE_1", "address_line", Y),
    ("Address line", "address_line", S),
    ("Town", "city", Y), ("City", "city", S), ("town/city", "city", Y),
    ("State", "region", Y), ("Province", "region", Y), ("County", "region", Y),
    ("Region", "region", S), ("Country", "country", S), ("COUNTRY", "country", S),
    ("Sex", "gender", Y), ("Gender", "gender", S),
    ("Customer ID", "record_id", Y), ("customer_id", "record_id", Y),
    ("CustomerID", "record_id", Y), ("Cust no", "record_id", Y), ("cust_no", "record_id", Y),
    ("Cust. No.", "record_id", Y), ("Account number", "record_id", Y),
    ("ID", "record_id", Y), ("id", "record_id", Y), ("record_id", "record_id", S),
    ("unique_id", "record_id", Y), ("rec_id", "record_id", Y), ("UID", "record_id", Y),
    ("Suburb", "city", Y),
    ("Name", "full_name", Y), ("NAME", "full_name", Y), ("Customer name", "full_name", Y),
    ("Full name", "full_name", S), ("FullName", "full_name", S),
    ("SSN", "national_id", Y), ("soc_sec_id", "national_id", Y),
    ("Social Security Number", "national_id", Y), ("NI number", "national_id", Y),
    ("NINO", "national_id", Y), ("Tax ID", "national_id", Y), ("TIN", "national_id", Y),
    ("National ID", "national_id", S), ("national_id", "national_id", S),
]  # fmt: skip


@pytest.mark.parametrize(("header", "attribute", "basis"), HEADERS, ids=[h[0] for h in HEADERS])
def test_a_header_people_use_names_its_attribute(header: str, attribute: str, basis: Basis):
    assert recognise_header(header) == (attribute, basis)


NOT_MAPPED = [
    "Notes", "Created by", "Company name", "Company", "Title", "true_person_id",
    "loyalty_tier", "Address 2", "Address line 2", "Username", "Nickname", "Email opt-in",
    "Phone type", "Name suffix", "Country code of office", "Date created", "", "  ",
]  # fmt: skip


@pytest.mark.parametrize("header", NOT_MAPPED, ids=[h or "blank" for h in NOT_MAPPED])
def test_a_header_that_names_no_attribute_is_left_alone(header: str) -> None:
    assert recognise_header(header) is None
    assert map_columns(["id", header]).unused == (header,)


# (columns in file order, attribute, the column that wins): a stated order, not file order.
RIVALS = [
    (["Mobile", "Phone"], "phone", "Phone"),
    (["Phone", "Mobile"], "phone", "Phone"),
    (["Cell", "Tel", "Mobile"], "phone", "Tel"),
    (["Surname", "Last Name"], "last_name", "Last Name"),
    (["First Name", "first_name"], "first_name", "first_name"),
    (["First Name", "FIRST NAME"], "first_name", "First Name"),
    (["County", "State"], "region", "State"),
    (["Address", "Street", "Address 1"], "address_line", "Address 1"),
    (["Zip", "Post code"], "postcode", "Post code"),
    (["Customer name", "Name"], "full_name", "Name"),
    (["ID", "Customer ID"], "record_id", "Customer ID"),
    (["record_id", "Customer ID"], "record_id", "record_id"),
]
RIVAL_IDS = ["+".join(r[0]) for r in RIVALS]


@pytest.mark.parametrize(("columns", "attribute", "winner"), RIVALS, ids=RIVAL_IDS)
def test_rivals_for_one_attribute_are_decided_by_a_stated_preference(
    columns: list[str], attribute: str, winner: str
) -> None:
    mapping = map_columns(columns)
    assert mapping.columns[attribute] == winner
    losers = [c for c in columns if c != winner]
    assert list(mapping.unused) == losers
    assert all(mapping.passed_over[c] == attribute for c in losers)
    assert all(
        f"{c!r} (also {attribute}; {winner!r} is used)" in mapping.describe() for c in losers
    )


def test_one_header_names_one_attribute() -> None:
    # The table is checked when imported; every attribute in it is one a mapping may give.
    assert set(SYNONYMS) <= set(MAPPABLE)


def test_a_source_mapping_is_followed_as_written() -> None:
    columns = ["cust", "Surname", "Mobile", "email", "Notes"]
    mapping = map_columns(columns, {"record_id": "cust", "last_name": "Surname"})
    assert [(c.attribute, c.column, c.basis) for c in mapping.chosen] == [
        ("record_id", "cust", Basis.MAPPING),
        ("last_name", "Surname", Basis.MAPPING),
        ("email", "email", Basis.SCHEMA),  # exact schema names are used as before
    ]
    assert mapping.unused == ("Mobile", "Notes")  # no guessing beside a mapping


# Headers YAML would misread if written bare: each must read back as written.
ODD = ["Address: 1", "yes", "No", "null", "# hash", "Tel #2", "Ville é", "'quoted'", "a", "7"]


@pytest.mark.parametrize("header", ODD, ids=ODD)
def test_an_odd_header_reads_back_from_the_proposed_yaml(tmp_path: Path, header: str) -> None:
    given = {"record_id": "Customer ID", "address_line": header}
    mapping = map_columns(["Customer ID", header], given)
    path = tmp_path / "odd.yaml"
    path.write_text(mapping_yaml(mapping, "sales", "sales.xlsx"), encoding="utf-8")
    assert load_source_mapping(path).columns == given


def test_the_proposed_yaml_reads_back_as_the_same_mapping(tmp_path: Path) -> None:
    mapping = map_columns(["Customer ID", "Name", "E-mail", "Mobile", "Tel", "Notes"])
    path = tmp_path / "sales.yaml"
    path.write_text(mapping_yaml(mapping, "sales", "sales.xlsx"), encoding="utf-8")
    loaded = load_source_mapping(path)
    assert loaded.source == "sales"
    assert loaded.columns == mapping.columns == {
        "record_id": "Customer ID", "full_name": "Name", "email": "E-mail", "phone": "Tel"
    }  # fmt: skip
    text = path.read_text()
    assert "Not mapped (kept with each record as extra attributes): Mobile, Notes" in text
    assert "record_id: Customer ID  # known synonym" in text
    assert "email: E-mail  # schema name" in text
