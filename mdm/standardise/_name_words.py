"""The words of person names: titles, suffixes, placeholders, what nameparser treats specially.

Shared by the scalar functions in :mod:`mdm.standardise.names` and their Arrow twins.
"""

from __future__ import annotations

import re

from nameparser.config import Constants

from mdm.standardise import _vectorised as vec
from mdm.standardise.text import MISSING_WORDS

#: Cleaned values that are not a name ("n/a" cleans to "n a").
PLACEHOLDER_NAMES = MISSING_WORDS | {
    "unk",
    "not given",
    "not provided",
    "no name",
    "noname",
    "xxx",
    "test",
}

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

#: Generational suffixes as written, and their standard form.
GENERATIONAL = {
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
SUFFIXES = frozenset(GENERATIONAL)

#: Trailing post-nominal letters, removed and not kept.
POSTNOMINALS = frozenset(
    {"phd", "dphil", "md", "dds", "esq", "obe", "mbe", "cbe", "kbe", "qc", "kc", "cpa"}
)

TRAILING = SUFFIXES | POSTNOMINALS

# The same rules as regular expressions over cleaned names, for the Arrow kernel.
LEADING_TITLES_PATTERN = f"^(?:{vec.alternation(TITLES)} )+"
SUFFIX_PATTERN = f" (?P<suffix>{vec.alternation(SUFFIXES)})(?: {vec.alternation(TRAILING)})*$"
TRAILING_PATTERN = f"(?: {vec.alternation(TRAILING)})+$"

# nameparser with our titles and suffixes instead of its 800 titles ("King",
# "Bishop" and "Dean" are surnames and first names here), prefixes kept.
PARSER_CONSTANTS = Constants(
    titles=TITLES,
    first_name_titles=(),
    suffix_not_acronyms=SUFFIXES,
    suffix_acronyms=POSTNOMINALS,
    suffix_acronyms_ambiguous=(),
)

# Words that make nameparser do more than "first [middle...] last".
SPECIAL_WORDS = frozenset(
    word.lower()
    for words in (
        PARSER_CONSTANTS.prefixes,
        PARSER_CONSTANTS.conjunctions,
        PARSER_CONSTANTS.bound_first_names,
        PARSER_CONSTANTS.non_first_name_prefixes,
        TRAILING,
        TITLES,
    )
    for word in words
)
NOT_PLAIN_CHARS = re.compile(r"[\"()\[\]{}<>]")
QUOTES = frozenset("'`")
PERIOD_BEFORE_LETTER = re.compile(r"\.(?=[^\W\d_])")
INITIAL = re.compile(r"[a-z]\.")
ROMAN_NUMERAL = re.compile(r"(?:x|ix|iv|v?i{0,3})\.?", re.IGNORECASE)  # nameparser's suffix test
