"""Person names: accent folding, titles and suffixes, splitting a full name into parts.

>>> clean_name("  Zoë O'Brien-Smith ")
'zoe obrien smith'
>>> strip_titles_suffixes("Dr. John Smith Jr.")
('john smith', 'jr')
>>> split_full_name("SMITH, JOHN A")
NameParts(first='john', middle='a', last='smith', suffix=None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from anyascii import anyascii
from nameparser import HumanName
from nameparser.config import Constants

from mdm.standardise._columns import apply_unique, take, to_text
from mdm.standardise.text import normalise_words

#: Cleaned values that are not a name ("n/a" cleans to "n a").
PLACEHOLDER_NAMES = frozenset(
    {
        "n a",
        "na",
        "none",
        "null",
        "nil",
        "nan",
        "unknown",
        "unk",
        "not known",
        "not given",
        "not provided",
        "no name",
        "noname",
        "xxx",
        "test",
    }
)

#: Leading words removed from names ("mr", "dr", "rt hon", ...).
TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "master",
        "dr",
        "doctor",
        "prof",
        "professor",
        "sir",
        "dame",
        "lady",
        "lord",
        "rev",
        "revd",
        "reverend",
        "fr",
        "rt",
        "hon",
        "capt",
        "col",
        "maj",
        "sgt",
        "cllr",
    }
)

# Generational suffixes as written, and their standard form.
_GENERATIONAL = {
    "jr": "jr",
    "jnr": "jr",
    "junior": "jr",
    "sr": "sr",
    "snr": "sr",
    "senior": "sr",
    "ii": "ii",
    "2nd": "ii",
    "iii": "iii",
    "3rd": "iii",
    "iv": "iv",
    "4th": "iv",
}

#: Trailing generational suffixes, recognised in any of these spellings.
SUFFIXES = frozenset(_GENERATIONAL)

#: Trailing post-nominal letters, removed and not kept.
POSTNOMINALS = frozenset(
    {"phd", "dphil", "md", "dds", "esq", "obe", "mbe", "cbe", "kbe", "qc", "kc", "cpa"}
)

_TRAILING = SUFFIXES | POSTNOMINALS

# nameparser with our titles and suffixes instead of its 800 titles ("King",
# "Bishop" and "Dean" are surnames and first names here), prefixes kept.
_PARSER_CONSTANTS = Constants(
    titles=TITLES,
    first_name_titles=(),
    suffix_not_acronyms=SUFFIXES,
    suffix_acronyms=POSTNOMINALS,
    suffix_acronyms_ambiguous=(),
)

# Words that make nameparser do more than "first [middle...] last".
_SPECIAL_WORDS = frozenset(
    word.lower()
    for words in (
        _PARSER_CONSTANTS.prefixes,
        _PARSER_CONSTANTS.conjunctions,
        _PARSER_CONSTANTS.bound_first_names,
        _PARSER_CONSTANTS.non_first_name_prefixes,
        _TRAILING,
        TITLES,
    )
    for word in words
)
_NOT_PLAIN_CHARS = re.compile(r"[,\"'()\[\]{}<>]")
_PERIOD_BEFORE_LETTER = re.compile(r"\.(?=[^\W\d_])")


@dataclass(frozen=True)
class NameParts:
    """A person's name split into cleaned parts; ``suffix`` is "jr", "sr", "ii", "iii" or "iv"."""

    first: str | None = None
    middle: str | None = None
    last: str | None = None
    suffix: str | None = None

    @property
    def full_name(self) -> str | None:
        """The parts joined as "first middle last", or None when all are missing."""
        return " ".join(p for p in (self.first, self.middle, self.last) if p) or None


def clean_name(value: object) -> str | None:
    """Fold, lowercase and strip punctuation from a name; None for blanks and placeholders.

    Apostrophes vanish ("O'Brien" -> "obrien"); hyphens and periods separate words
    ("Smith-Jones" -> "smith jones", "St. John" -> "st john").
    """
    text = to_text(value)
    if text is None:
        return None
    words = normalise_words(text)
    return None if not words or words in PLACEHOLDER_NAMES else words


def normalise_suffix(word: str | None) -> str | None:
    """Return the standard generational suffix for ``word`` ("Junior" -> "jr"), else None."""
    return None if word is None else _GENERATIONAL.get(normalise_words(word))


def strip_titles_suffixes(name: object) -> tuple[str | None, str | None]:
    """Clean ``name`` and remove leading titles and trailing suffixes.

    Returns the remaining name and the generational suffix ("jr", "sr", "ii", "iii",
    "iv") if there was one. A name that is nothing but a title ("Lord") is kept.
    """
    cleaned = clean_name(name)
    if cleaned is None:
        return None, None
    words = cleaned.split()
    start, end, suffix = 0, len(words), None
    while start < end - 1 and words[start] in TITLES:
        start += 1
    while end - 1 > start and words[end - 1] in _TRAILING:
        suffix = _GENERATIONAL.get(words[end - 1], suffix)
        end -= 1
    remaining = " ".join(words[start:end])
    return (None if remaining in PLACEHOLDER_NAMES else remaining), suffix


def split_full_name(value: object) -> NameParts:
    """Split a full name into cleaned first, middle and last names and a suffix.

    Handles "SMITH, JOHN A", "Dr. John A. Smith Jr." and surname particles
    ("maria de la cruz"); a single word is a first name.
    """
    text = to_text(value)
    if text is None or clean_name(text) is None:
        return NameParts()
    text = _PERIOD_BEFORE_LETTER.sub(". ", text if text.isascii() else anyascii(text))
    words = text.split()
    if _is_plain(text, words):
        first, middle, last, suffix = words[0], " ".join(words[1:-1]), words[-1], None
        if len(words) == 1:
            last = ""
    else:
        parsed = HumanName(text, constants=_PARSER_CONSTANTS)
        first, middle, last = parsed.first, parsed.middle, parsed.last
        suffix = next(
            (s for s in map(normalise_suffix, normalise_words(parsed.suffix).split()) if s), None
        )
    first_name, _ = strip_titles_suffixes(first)
    last_name, last_suffix = strip_titles_suffixes(last)
    return NameParts(first_name, clean_name(middle), last_name, suffix or last_suffix)


def clean_full_name(value: object) -> tuple[str | None, str | None]:
    """Clean a full name to "first middle last" without titles; return it and its suffix.

    Word order is kept, except that "Last, First" is turned round.
    """
    text = to_text(value)
    if text is not None and "," in text:
        parts = split_full_name(text)
        return parts.full_name, parts.suffix
    return strip_titles_suffixes(text)


def _is_plain(text: str, words: list[str]) -> bool:
    """True when nameparser would read ``words`` as simply "first [middle...] last"."""
    if _NOT_PLAIN_CHARS.search(text):
        return False
    for word in words:
        key = word.lower()
        if key.strip(".") in _SPECIAL_WORDS or key.replace(".", "") in _SPECIAL_WORDS:
            return False
        if "-" in key and key.split("-", 1)[0] + "-" in _SPECIAL_WORDS:
            return False
    return True


def standardise_name_column(series: pd.Series) -> pd.Series:
    """Clean a name column and strip titles and suffixes, once per distinct value."""
    return standardise_name_column_with_suffix(series)[0]


def standardise_name_column_with_suffix(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Like :func:`standardise_name_column`, also returning the suffix column."""
    codes, results = apply_unique(series, strip_titles_suffixes)
    names = take(codes, [name for name, _ in results], series.index)
    suffixes = take(codes, [suffix for _, suffix in results], series.index)
    return names, suffixes


def standardise_full_name_column(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Apply :func:`clean_full_name` to a column; return the names and the suffixes."""
    codes, results = apply_unique(series, clean_full_name)
    names = take(codes, [name for name, _ in results], series.index)
    suffixes = take(codes, [suffix for _, suffix in results], series.index)
    return names, suffixes


def split_full_name_column(series: pd.Series) -> pd.DataFrame:
    """Split a full-name column into first_name, middle_name, last_name and name_suffix."""
    codes, results = apply_unique(series, split_full_name)
    columns = {
        "first_name": [parts.first for parts in results],
        "middle_name": [parts.middle for parts in results],
        "last_name": [parts.last for parts in results],
        "name_suffix": [parts.suffix for parts in results],
    }
    return pd.DataFrame(
        {name: take(codes, values, series.index) for name, values in columns.items()},
        index=series.index,
    )
