"""Postcodes: uppercase, compact, UK and Canadian codes spaced, US ZIP+4 cut to five digits.

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

import pandas as pd
from anyascii import anyascii

from mdm.standardise._columns import INVALID, PLACEHOLDER, Cleaned, Status, standardise_unique
from mdm.standardise._columns import to_text as _to_text
from mdm.standardise.text import clean_text

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_UK = re.compile(r"(GIR|[A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})")
_CANADA = re.compile(r"([A-Z][0-9][A-Z])([0-9][A-Z][0-9])")
_ZIP_PLUS_4 = re.compile(r"([0-9]{5})[ -]?[0-9]{4}")
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
    values, counts = standardise_unique(series, lambda value: _classify_postcode(value, key))
    return values, int(counts[Status.INVALID])


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
    if country in (None, "US") and (match := _ZIP_PLUS_4.fullmatch(upper)):
        return match[1], Status.OK
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
