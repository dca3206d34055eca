"""Names: cleaning, titles and suffixes, splitting full names."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.standardise import (
    NameParts,
    clean_full_name,
    clean_name,
    split_full_name,
    split_full_name_column,
    standardise_name_column,
    standardise_name_column_with_suffix,
    strip_titles_suffixes,
)
from mdm.standardise import names as names_module

P = pytest.param

CLEAN_NAME_CASES = [
    P("José", "jose", id="acute-accent"),
    P("Müller", "muller", id="umlaut"),
    P("MÜLLER", "muller", id="upper-umlaut"),
    P("Zoë", "zoe", id="diaeresis"),
    P("Łukasz", "lukasz", id="polish-l"),
    P("Strauß", "strauss", id="eszett"),
    P("O'Brien", "obrien", id="apostrophe"),
    P("O’Brien", "obrien", id="curly-apostrophe"),
    P("St. John", "st john", id="period-then-space"),
    P("St.John", "st john", id="period-between-words"),
    P("Smith-Jones", "smith jones", id="hyphen"),
    P("  mary   ann ", "mary ann", id="extra-spaces"),
    P("J.R.R.", "j r r", id="initials"),
    P("Anne-Marie d'Arcy", "anne marie darcy", id="hyphen-and-apostrophe"),
    P("n/a", None, id="n/a"),
    P("N/A", None, id="N/A"),
    P("none", None, id="none"),
    P("NULL", None, id="null"),
    P("Unknown", None, id="unknown"),
    P("-", None, id="dash"),
    P("?", None, id="question-mark"),
    P("xxx", None, id="xxx"),
    P("TEST", None, id="test"),
    P("", None, id="empty"),
    P("   ", None, id="blank"),
    P(None, None, id="none-value"),
    P(float("nan"), None, id="nan-value"),
    P("Nat", "nat", id="nat-is-a-name"),
    P("nan", None, id="stringified-nan"),
]


@pytest.mark.parametrize(("raw", "expected"), CLEAN_NAME_CASES)
def test_clean_name(raw: object, expected: str | None) -> None:
    assert clean_name(raw) == expected


STRIP_CASES = [
    P("Dr. John Smith Jr.", ("john smith", "jr"), id="title-and-suffix"),
    P("Mrs Mary Jones", ("mary jones", None), id="mrs"),
    P("Rt Hon Sir John Major", ("john major", None), id="several-titles"),
    P("John Smith III", ("john smith", "iii"), id="roman-iii"),
    P("John Smith Junior", ("john smith", "jr"), id="junior-word"),
    P("John Smith Snr", ("john smith", "sr"), id="snr"),
    P("John Smith 2nd", ("john smith", "ii"), id="2nd"),
    P("Smith Jr PhD", ("smith", "jr"), id="suffix-then-postnominal"),
    P("Smith, Jr.", ("smith", "jr"), id="comma-suffix"),
    P("Lord", ("lord", None), id="title-alone-is-kept"),
    P("Mr Unknown", (None, None), id="title-and-placeholder"),
    P("Jr", ("jr", None), id="suffix-alone-is-kept"),
    P("Ms", ("ms", None), id="ms-alone"),
    P(None, (None, None), id="missing"),
]


@pytest.mark.parametrize(("raw", "expected"), STRIP_CASES)
def test_strip_titles_suffixes(raw: object, expected: tuple[str | None, str | None]) -> None:
    assert strip_titles_suffixes(raw) == expected


SPLIT_CASES = [
    P("SMITH, JOHN A", NameParts("john", "a", "smith"), id="upper-last-comma-first"),
    P("Smith, John", NameParts("john", None, "smith"), id="last-comma-first"),
    P("SMITH JONES, MARY", NameParts("mary", None, "smith jones"), id="two-surnames-comma"),
    P("Dr. John A. Smith Jr.", NameParts("john", "a", "smith", "jr"), id="title-initial-suffix"),
    P("john smith", NameParts("john", None, "smith"), id="lowercase"),
    P("John Paul George Smith", NameParts("john", "paul george", "smith"), id="two-middles"),
    P("madonna", NameParts("madonna"), id="single-token-is-first"),
    P("Mr Smith", NameParts(None, None, "smith"), id="title-and-one-word-is-last"),
    P("Maria de la Cruz", NameParts("maria", None, "de la cruz"), id="particles"),
    P("Jan van der Berg", NameParts("jan", None, "van der berg"), id="dutch-particles"),
    P("van der Berg, Jan", NameParts("jan", None, "van der berg"), id="particles-comma"),
    P("José María Müller", NameParts("jose", "maria", "muller"), id="accents"),
    P("Mary-Kate O'Brien", NameParts("mary kate", None, "obrien"), id="hyphen-apostrophe"),
    P("J.Smith", NameParts("j", None, "smith"), id="initial-without-space"),
    P("Smith, John, Jr", NameParts("john", None, "smith", "jr"), id="comma-suffix"),
    P("John Smith, Jr.", NameParts("john", None, "smith", "jr"), id="name-comma-suffix"),
    P("Prof Sir John Smith III PhD", NameParts("john", None, "smith", "iii"), id="many-extras"),
    P("King John", NameParts("king", None, "john"), id="king-is-a-name"),
    P("n/a", NameParts(), id="placeholder"),
    P("", NameParts(), id="empty"),
    P(None, NameParts(), id="missing"),
]


@pytest.mark.parametrize(("raw", "expected"), SPLIT_CASES)
def test_split_full_name(raw: object, expected: NameParts) -> None:
    assert split_full_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        P("Mr John Smith", ("john smith", None), id="title"),
        P("SMITH, JOHN A", ("john a smith", None), id="comma-turned-round"),
        P("John Smith Jr", ("john smith", "jr"), id="suffix"),
        P("n/a", (None, None), id="placeholder"),
    ],
)
def test_clean_full_name(raw: object, expected: tuple[str | None, str | None]) -> None:
    assert clean_full_name(raw) == expected


def test_name_parts_full_name() -> None:
    assert NameParts("john", "a", "smith").full_name == "john a smith"
    assert NameParts(None, None, "smith").full_name == "smith"
    assert NameParts().full_name is None


def test_standardise_name_column_keeps_index_and_returns_objects() -> None:
    series = pd.Series(["Dr José", None, "MARY", "Dr José", "n/a"], index=[10, 11, 12, 13, 10])
    names, suffixes = standardise_name_column_with_suffix(series)
    assert names.tolist() == ["jose", None, "mary", "jose", None]
    assert suffixes.tolist() == [None] * 5
    assert names.dtype == object and list(names.index) == [10, 11, 12, 13, 10]
    assert standardise_name_column(series).tolist() == names.tolist()


def test_split_full_name_column() -> None:
    series = pd.Series(["SMITH, JOHN A", None, "Dr. Jane Doe Jr.", "madonna"])
    parts = split_full_name_column(series)
    assert parts.to_dict("list") == {
        "first_name": ["john", None, "jane", "madonna"],
        "middle_name": ["a", None, None, None],
        "last_name": ["smith", None, "doe", None],
        "name_suffix": [None, None, "jr", None],
    }


def test_surrogates_fall_back_to_python() -> None:
    series = pd.Series(["Jos\udce9 Smith", "Mary"], dtype=object)
    assert standardise_name_column(series).tolist() == [clean_name("Jos\udce9 Smith"), "mary"]
    assert split_full_name_column(series)["last_name"].tolist() == ["smith", None]


# Properties -----------------------------------------------------------------

NAME_WORDS = st.sampled_from(
    ["John", "MARY", "José", "O'Brien", "Smith-Jones", "de", "la", "van", "J.", "A", "Li"]
    + ["Mr", "Dr.", "Sir", "Lady", "Jr.", "III", "PhD", "Snr", "and", "X", "St.", "n/a"]
)
NAMES = st.lists(NAME_WORDS, min_size=1, max_size=6).map(" ".join)


@given(st.one_of(st.text(), NAMES))
def test_clean_name_is_idempotent_ascii_lowercase(raw: str) -> None:
    cleaned = clean_name(raw)
    assert clean_name(cleaned) == cleaned
    if cleaned is not None:
        assert cleaned.isascii() and cleaned == cleaned.lower()
        assert cleaned == " ".join(cleaned.split())


@given(st.one_of(st.text(), NAMES))
def test_strip_titles_suffixes_is_idempotent(raw: str) -> None:
    name, _ = strip_titles_suffixes(raw)
    assert strip_titles_suffixes(name)[0] == name


@settings(deadline=None)
@given(st.one_of(st.text(), NAMES))
def test_split_full_name_never_raises_and_gives_clean_parts(raw: str) -> None:
    parts = split_full_name(raw)
    for part in (parts.first, parts.middle, parts.last):
        assert part is None or clean_name(part) == part
    assert parts.suffix in (None, "jr", "sr", "ii", "iii", "iv")


@settings(deadline=None, max_examples=300)
@given(st.lists(NAME_WORDS, min_size=1, max_size=6).map(" ".join))
def test_fast_split_agrees_with_nameparser(raw: str) -> None:
    """The shortcut for plain names gives what nameparser gives."""
    plain = names_module._split_plain(raw, raw.split())
    if plain is not None:
        expected = names_module._split_nameparser(raw)
        assert names_module._name_parts(*plain) == names_module._name_parts(*expected)
