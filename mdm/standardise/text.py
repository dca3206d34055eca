"""Free text: accent folding, punctuation, addresses, places and gender.

Standardised text is lowercase ASCII with single spaces and no punctuation:
``"  Rue de l'Église, 3 "`` becomes ``"rue de leglise 3"``.
"""

from __future__ import annotations

import string

import pandas as pd
from anyascii import anyascii

from mdm.standardise import _vectorised as vec
from mdm.standardise._columns import MISSING_MARKERS, take, to_text

# Apostrophes vanish ("O'Brien" -> "obrien"); every other ASCII character that is
# not a lowercase letter or digit becomes a space (hyphens, periods, commas, ...).
_KEEP = set(string.ascii_lowercase + string.digits)
_PUNCTUATION_TABLE = {
    code: (None if chr(code) in "'`" else " ")
    for code in range(128)
    if chr(code) not in _KEEP and chr(code) != " "
}

#: Street-type words and their standard abbreviations.
ADDRESS_ABBREVIATIONS = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "crescent": "cres",
    "close": "cl",
    "apartment": "apt",
}

#: Cleaned text that means "no value": the missing markers, cleaned ("n/a" -> "n a").
#: Checking the cleaned form keeps cleaning idempotent, at a price: names that fold
#: to a marker are lost too (娜 -> "na", 南 -> "nan").
MISSING_WORDS = frozenset(
    " ".join(marker.translate(_PUNCTUATION_TABLE).split()) for marker in MISSING_MARKERS
) - {""}

_GENDERS = {
    "m": "m",
    "male": "m",
    "man": "m",
    "mr": "m",
    "f": "f",
    "female": "f",
    "woman": "f",
    "mrs": "f",
    "ms": "f",
    "miss": "f",
}


def fold(text: str) -> str:
    """Fold ``text`` to lowercase ASCII ("José" -> "jose", "Müller" -> "muller")."""
    if not text.isascii():
        text = anyascii(text)
    return text.lower()


def normalise_words(text: str) -> str:
    """Fold ``text``, drop apostrophes, turn other punctuation into spaces, collapse spaces."""
    return " ".join(fold(text).translate(_PUNCTUATION_TABLE).split())


def clean_text(value: object) -> str | None:
    """Standardise free text (a city, region or country); None when empty or "n/a"."""
    text = to_text(value)
    words = "" if text is None else normalise_words(text)
    return None if not words or words in MISSING_WORDS else words


def clean_address(value: object) -> str | None:
    """Standardise an address line: clean text with street types abbreviated ("road" -> "rd")."""
    text = clean_text(value)
    if text is None:
        return None
    return " ".join(ADDRESS_ABBREVIATIONS.get(word, word) for word in text.split())


def clean_gender(value: object) -> str | None:
    """Normalise gender to "m" or "f" ("Male", "M", "Mr" -> "m"); anything else is None."""
    text = clean_text(value)
    return None if text is None else _GENDERS.get(text)


def standardise_text_column(series: pd.Series) -> pd.Series:
    """Apply :func:`clean_text` to a column, once per distinct value."""
    unique = vec.unique_texts(series)
    if unique.array is None:
        return take(unique.codes, [clean_text(t) for t in unique.texts()], series.index)
    words = vec.null_if_in(vec.normalise_words(unique.array), MISSING_WORDS)
    return take(unique.codes, vec.to_objects(words), series.index)


def standardise_address_column(series: pd.Series) -> pd.Series:
    """Apply :func:`clean_address` to a column, once per distinct value."""
    unique = vec.unique_texts(series)
    if unique.array is None:
        return take(unique.codes, [clean_address(t) for t in unique.texts()], series.index)
    words = vec.null_if_in(vec.normalise_words(unique.array), MISSING_WORDS)
    words = vec.replace_words(words, ADDRESS_ABBREVIATIONS)
    return take(unique.codes, vec.to_objects(words), series.index)


def standardise_gender_column(series: pd.Series) -> pd.Series:
    """Apply :func:`clean_gender` to a column, once per distinct value."""
    unique = vec.unique_texts(series)
    return take(unique.codes, [clean_gender(t) for t in unique.texts()], series.index)
