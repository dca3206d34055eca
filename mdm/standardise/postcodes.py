"""Postcodes: uppercase, compact, UK and Canadian codes spaced, US ZIP+4 cut to five digits.

One canonical form per country, so two records of a person compare equal: GB
"SW1A 1AA", CA "K1A 0B1", US "49503" (ZIP+4 compares on its five-digit ZIP: the +4
names a delivery point and is often left out), AU "2000", DE "10115", FR "75001".

>>> clean_postcode("sw1a1aa")
'SW1A 1AA'
>>> clean_postcode("02134-1234")
'02134'
>>> postcode_district("SW1A 1AA")
'SW1A'

Postcodes are text: leading zeros are kept, nothing is padded (a ZIP read as a
number and stripped of its zero is repaired only when ``country`` says US).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii

from mdm.standardise import _vectorised as vec
from mdm.standardise._columns import INVALID, PLACEHOLDER, Cleaned, Status, assemble
from mdm.standardise._columns import to_text as _to_text
from mdm.standardise.text import clean_text

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_UK = re.compile(r"(GIR|[A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})")
_CANADA = re.compile(r"([A-Z][0-9][A-Z])([0-9][A-Z][0-9])")
_ZIP_PLUS_4 = re.compile(r"([0-9]{5})[0-9]{4}")
_HAS_DIGIT = re.compile(r"[0-9]")

#: Compact values that mean "no postcode".
PLACEHOLDER_POSTCODES = frozenset(
    {"NA", "NONE", "NULL", "NIL", "NAN", "UNKNOWN", "NOTKNOWN", "TBC", "TBA", "NFA"}
)

_COUNTRIES = {
    "gb": "GB",
    "gbr": "GB",
    "uk": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "us": "US",
    "usa": "US",
    "united states": "US",
    "united states of america": "US",
    "ca": "CA",
    "can": "CA",
    "canada": "CA",
}


def clean_postcode(value: object, country: str | None = None) -> str | None:
    """Standardise a postcode; None when empty, a placeholder or not a postcode.

    UK ("SW1A 1AA") and Canadian ("K1A 0B1") codes get one space before the last
    three characters; ZIP+4 becomes its five-digit ZIP; anything else is kept
    upper-case without spaces or punctuation if it has 2-10 characters and a digit.
    ``country`` (a name or ISO code) makes the check strict for GB, US and CA.
    """
    return _classify_postcode(value, _country_key(country))[0]


def postcode_district(postcode: object) -> str | None:
    """The coarse area of a postcode: the UK outward code ("SW1A"), else the first 3 characters."""
    cleaned = clean_postcode(postcode)
    if cleaned is None:
        return None
    return cleaned.split(" ", 1)[0] if _UK.fullmatch(cleaned.replace(" ", "")) else cleaned[:3]


def standardise_postcode_column(
    series: pd.Series, country: str | None = None
) -> tuple[pd.Series, int]:
    """Clean a postcode column once per distinct value; also return the number of invalid ones."""
    key = _country_key(country)
    unique = vec.unique_texts(series)
    if unique.array is None:
        results = [_classify_postcode(text, key) for text in unique.texts()]
        values = np.array([value for value, _ in results], dtype=object)
        statuses = np.array([status for _, status in results], dtype=np.int8)
    else:
        values, statuses = _classify_array(unique.array, key)
    rows, counts = assemble(unique.codes, values, statuses, series.index)
    return rows, int(counts[Status.INVALID])


def standardise_postcode_column_by_country(
    series: pd.Series, countries: np.ndarray
) -> tuple[pd.Series, int]:
    """Clean a postcode column, each row's value first repaired for its country.

    ``countries`` holds per row an ISO 3166 alpha-2 code or None (any format). Values
    in another country's form are read as they are, never refused for their country.
    Also returns the number of invalid values.
    """
    repaired = series
    for country in _REPAIRS:
        rows = np.flatnonzero(countries == country)
        if len(rows):
            if repaired is series:
                repaired = series.astype(object).copy()
            codes, uniques = pd.factorize(repaired.iloc[rows], use_na_sentinel=True)
            fixed = [repair_postcode(value, country) for value in uniques.tolist()]
            repaired.iloc[rows] = np.array([*fixed, None], dtype=object)[codes]
    return standardise_postcode_column(repaired)


def repair_postcode(value: object, country: str | None) -> object:
    """A postcode in ``country``'s own form: a US ZIP that lost its leading zeros
    ("2134" -> "02134"), a German or French code without its letters ("D-10115" ->
    "10115"); any other value unchanged."""
    repair = _REPAIRS.get(country or "")
    text = None if repair is None else _to_text(value)
    if text is None:
        return value
    assert repair is not None  # text is None without a repair
    pattern, form = repair
    match = pattern.fullmatch(text)
    return value if match is None else form(match[1])


_REPAIRS: dict[str, tuple[re.Pattern[str], Callable[[str], str]]] = {
    "US": (re.compile(r"([0-9]{3,4})"), lambda digits: digits.zfill(5)),
    "DE": (re.compile(r"(?:D|DE)\s*-?\s*([0-9]{5})", re.IGNORECASE), str),
    "FR": (re.compile(r"(?:F|FR)\s*-?\s*([0-9]{5})", re.IGNORECASE), str),
    "AT": (re.compile(r"(?:A|AT)\s*-?\s*([0-9]{4})", re.IGNORECASE), str),
    "CH": (re.compile(r"CH\s*-?\s*([0-9]{4})", re.IGNORECASE), str),
}


def _country_key(country: str | None) -> str | None:
    name = clean_text(country)
    return None if name is None else _COUNTRIES.get(name, "OTHER")


def _classify_postcode(value: object, country: str | None) -> Cleaned:
    text = _to_text(value)
    if text is None:
        return None, Status.EMPTY
    upper = (text if text.isascii() else anyascii(text)).upper()
    compact = _NON_ALNUM.sub("", upper)
    if not compact:
        return None, Status.EMPTY
    if len(set(compact)) == 1 or compact in PLACEHOLDER_POSTCODES:
        return PLACEHOLDER
    if country in (None, "US") and (match := _ZIP_PLUS_4.fullmatch(compact)):
        return PLACEHOLDER if len(set(match[1])) == 1 else (match[1], Status.OK)
    if country in (None, "GB") and (match := _UK.fullmatch(compact)):
        if match[1].startswith("ZZ99"):  # NHS pseudo-postcode: no fixed abode
            return PLACEHOLDER
        return f"{match[1]} {match[2]}", Status.OK
    if country in (None, "CA") and (match := _CANADA.fullmatch(compact)):
        return f"{match[1]} {match[2]}", Status.OK
    if country == "US":
        return _us_zip(compact)
    if country in ("GB", "CA") or not 2 <= len(compact) <= 10 or not _HAS_DIGIT.search(compact):
        return INVALID
    return compact, Status.OK


def _us_zip(compact: str) -> Cleaned:
    """A US ZIP from its digits: 9 digits are ZIP+4, 3-4 digits lost their leading zeros."""
    if not compact.isdigit() or len(compact) not in (3, 4, 5, 9):
        return INVALID
    return compact.zfill(5)[:5], Status.OK


def _classify_array(texts: pa.StringArray, country: str | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_classify_postcode` of each text: ASCII ones in Arrow, the rest one by one."""
    upper = pc.ascii_upper(texts)
    compact = vec.replace_matching(pc.replace_substring(upper, " ", ""), "[^A-Z0-9]+", "")
    length = pc.utf8_length(compact)
    spaced = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(compact, 0, -3), pc.utf8_slice_codeunits(compact, -3), " "
    )
    zip5 = pc.utf8_slice_codeunits(compact, 0, 5)
    is_zip = _allowed(country, "US") & _numpy(vec.matching(compact, f"^{_ZIP_PLUS_4.pattern}$"))
    uk = _allowed(country, "GB") & _numpy(vec.matching(compact, f"^{_UK.pattern}$"))
    canada = _allowed(country, "CA") & _numpy(vec.matching(compact, f"^{_CANADA.pattern}$"))
    us = np.full(len(texts), country == "US")
    us_ok = _numpy(vec.matching(compact, "^(?:[0-9]{3,5}|[0-9]{9})$"))
    generic = (
        np.full(len(texts), country not in ("GB", "CA"))
        & _numpy(pc.and_(pc.greater_equal(length, 2), pc.less_equal(length, 10)))
        & _numpy(vec.matching(compact, "[0-9]"))
    )
    values, statuses = _first_match(
        len(texts),
        [
            (~_numpy(pc.greater(length, 0)), Status.EMPTY, None),
            (
                _same_char(compact) | _is_in(compact, PLACEHOLDER_POSTCODES),
                Status.PLACEHOLDER,
                None,
            ),
            (is_zip & _same_char(zip5), Status.PLACEHOLDER, None),
            (is_zip, Status.OK, zip5),
            (uk & _numpy(pc.starts_with(compact, "ZZ99")), Status.PLACEHOLDER, None),
            (uk | canada, Status.OK, spaced),
            (us & us_ok, Status.OK, pc.utf8_slice_codeunits(pc.utf8_lpad(compact, 5, "0"), 0, 5)),
            (us, Status.INVALID, None),
            (generic, Status.OK, compact),
        ],
    )
    not_ascii = ~_numpy(pc.string_is_ascii(texts), missing=True)
    others = pc.filter(texts, not_ascii).to_pylist()
    for at, text in zip(np.flatnonzero(not_ascii), others, strict=True):
        values[at], statuses[at] = _classify_postcode(text, country)
    return values, statuses


def _first_match(
    size: int, choices: list[tuple[np.ndarray, Status, pa.Array | None]]
) -> tuple[np.ndarray, np.ndarray]:
    """Values and statuses from the first choice whose condition holds; INVALID otherwise."""
    values = np.full(size, None, dtype=object)
    statuses = np.full(size, Status.INVALID, dtype=np.int8)
    decided = np.zeros(size, dtype=bool)
    for condition, status, chosen in choices:
        pick = condition & ~decided
        statuses[pick] = status
        if chosen is not None and pick.any():
            values[np.flatnonzero(pick)] = pc.filter(chosen, pa.array(pick)).to_pylist()
        decided |= pick
    return values, statuses


def _same_char(array: pa.StringArray) -> np.ndarray:
    """True where the text is one character repeated."""
    first = pc.utf8_slice_codeunits(array, 0, 1)
    return _numpy(pc.equal(pc.binary_repeat(first, pc.utf8_length(array)), array))


def _allowed(country: str | None, code: str) -> bool:
    return country is None or country == code


def _numpy(mask: pa.BooleanArray, missing: bool = False) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls counted as ``missing``."""
    return np.asarray(pc.fill_null(mask, missing).to_numpy(zero_copy_only=False), dtype=bool)


def _is_in(array: pa.Array, values: frozenset[str]) -> np.ndarray:
    return _numpy(pc.is_in(array, value_set=pa.array(sorted(values))))
