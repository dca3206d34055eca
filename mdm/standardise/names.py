"""Person names: accent folding, titles and suffixes, splitting a full name into parts.

>>> clean_name("  Zoë O'Brien-Smith ")
'zoe obrien smith'
>>> strip_titles_suffixes("Dr. John Smith Jr.")
('john smith', 'jr')
>>> split_full_name("SMITH, JOHN A")
NameParts(first='john', middle='a', last='smith', suffix=None)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii
from nameparser import HumanName

from mdm.standardise import _name_words as vocab
from mdm.standardise import _names_arrow as arrow
from mdm.standardise import _vectorised as vec
from mdm.standardise._columns import take, to_text
from mdm.standardise._name_words import PLACEHOLDER_NAMES as PLACEHOLDER_NAMES
from mdm.standardise._name_words import POSTNOMINALS as POSTNOMINALS
from mdm.standardise._name_words import SUFFIXES as SUFFIXES
from mdm.standardise._name_words import TITLES as TITLES
from mdm.standardise.text import normalise_words


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
    return None if word is None else vocab.GENERATIONAL.get(normalise_words(word))


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
    while end - 1 > start and words[end - 1] in vocab.TRAILING:
        suffix = vocab.GENERATIONAL.get(words[end - 1], suffix)
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
    return _name_parts(*_split_raw(text))


def _split_raw(text: str) -> tuple[str, str, str, str | None]:
    """Split a full name into uncleaned first, middle and last names and a clean suffix."""
    text = vocab.PERIOD_BEFORE_LETTER.sub(". ", text if text.isascii() else anyascii(text))
    found = _split_comma(text) if "," in text else _split_plain(text, text.split())
    return found or _split_nameparser(text)


def _name_parts(first: str, middle: str, last: str, suffix: str | None) -> NameParts:
    """Clean raw split parts; titles and suffixes left inside them are removed."""
    first_name, _ = strip_titles_suffixes(first)
    last_name, last_suffix = strip_titles_suffixes(last)
    return NameParts(first_name, clean_name(middle), last_name, suffix or last_suffix)


def _split_nameparser(text: str) -> tuple[str, str, str, str | None]:
    parsed = HumanName(text, constants=vocab.PARSER_CONSTANTS)
    suffix = _first_suffix(normalise_words(parsed.suffix).split())
    return parsed.first, parsed.middle, parsed.last, suffix


def clean_full_name(value: object) -> tuple[str | None, str | None]:
    """Clean a full name to "first middle last" without titles; return it and its suffix.

    Word order is kept, except that "Last, First" is turned round.
    """
    text = to_text(value)
    if text is not None and "," in text:
        parts = split_full_name(text)
        return parts.full_name, parts.suffix
    return strip_titles_suffixes(text)


def _split_plain(text: str, words: list[str]) -> tuple[str, str, str, str | None] | None:
    """Split a name as nameparser would when it is simply "[titles] first [middle] last
    [suffixes]"; None when nameparser has more to do (particles such as "van der",
    nicknames, roman numerals)."""
    if "," in text or vocab.NOT_PLAIN_CHARS.search(text):
        return None
    keys = [word.lower().replace(".", "") for word in words]
    start, end = _core_bounds(keys)
    core = words[start:end]
    if not core or (len(core) == 1 and (start > 0 or end < len(words))):
        return None
    if not all(map(_is_plain_word, core)):
        return None
    last = core[-1] if len(core) > 1 else ""
    return core[0], " ".join(core[1:-1]), last, _first_suffix(keys[end:])


def _split_comma(text: str) -> tuple[str, str, str, str | None] | None:
    """Split "Last, First [Middle]" (or "First Last, Jr."); None for other comma forms.

    nameparser reads "SMITH JONES, MARY" as "Smith Jones" with the post-nominal
    "MARY", which is wrong for upper-case exports, so this form is read here.
    """
    left, _, right = text.partition(",")
    surname, given = left.split(), right.split()
    if "," in right or not surname or not given or vocab.NOT_PLAIN_CHARS.search(text):
        return None
    keys = [word.lower().replace(".", "") for word in given]
    if all(key in vocab.TRAILING for key in keys):
        found = _split_plain(left, surname)
        return found and (*found[:3], found[3] or _first_suffix(keys))
    start, end = _core_bounds(keys)
    core = given[start:end]
    if not core:
        return None
    return core[0], " ".join(core[1:]), " ".join(surname), _first_suffix(keys[end:])


def _core_bounds(keys: list[str]) -> tuple[int, int]:
    """Where the name words start and end, between leading titles and trailing suffixes."""
    start, end = 0, len(keys)
    while start < end and keys[start] in TITLES:
        start += 1
    while end > start and keys[end - 1] in vocab.TRAILING:
        end -= 1
    return start, end


@functools.lru_cache(maxsize=1 << 16)
def _is_plain_word(word: str) -> bool:
    """True for a word nameparser takes as an ordinary name or initial."""
    key = word.lower()
    if "." in key and not vocab.INITIAL.fullmatch(key):  # nameparser's abbreviation rules
        return False
    if key[:1] in vocab.QUOTES or key[-1:] in vocab.QUOTES:  # nicknames: 'Jack'
        return False
    if vocab.ROMAN_NUMERAL.fullmatch(key) or key.strip(".") in vocab.SPECIAL_WORDS:
        return False
    return not ("-" in key and key.split("-", 1)[0] + "-" in vocab.SPECIAL_WORDS)


def _first_suffix(words: list[str]) -> str | None:
    """The first generational suffix among ``words``, standardised."""
    return next((vocab.GENERATIONAL[w] for w in words if w in vocab.GENERATIONAL), None)


def standardise_name_column(series: pd.Series) -> pd.Series:
    """Clean a name column and strip titles and suffixes, once per distinct value."""
    return standardise_name_column_with_suffix(series)[0]


def standardise_name_column_with_suffix(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Like :func:`standardise_name_column`, also returning the suffix column."""
    unique = vec.unique_texts(series)
    names, suffixes = _strip_many(unique)
    return take(unique.codes, names, series.index), take(unique.codes, suffixes, series.index)


def standardise_full_name_column(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Apply :func:`clean_full_name` to a column; return the names and the suffixes."""
    unique = vec.unique_texts(series)
    names, suffixes = _strip_many(unique)
    if unique.array is None:
        texts = unique.texts()
        at_commas = [at for at, text in enumerate(texts) if text and "," in text]
        comma_texts = [texts[at] for at in at_commas]
    else:
        has_comma = vec.matching(unique.array, ",")
        at_commas = np.flatnonzero(has_comma.to_numpy(zero_copy_only=False)).tolist()
        comma_array = pc.filter(unique.array, has_comma)
        # "Last, First" in Arrow; the rest (titles, suffixes, particles) in Python.
        done, full, suffix = _full_names_from_commas(comma_array)
        for at, name, ending in zip(
            np.asarray(at_commas)[done].tolist(), full, suffix, strict=True
        ):
            names[at], suffixes[at] = name, ending
        at_commas = np.asarray(at_commas)[~done].tolist()
        comma_texts = pc.filter(comma_array, pa.array(~done)).to_pylist()
    for at, text in zip(at_commas, comma_texts, strict=True):
        names[at], suffixes[at] = clean_full_name(text)
    return take(unique.codes, names, series.index), take(unique.codes, suffixes, series.index)


def split_full_name_column(series: pd.Series) -> pd.DataFrame:
    """Split a full-name column into first_name, middle_name, last_name and name_suffix."""
    unique = vec.unique_texts(series)
    if unique.array is None:
        parts = [split_full_name(text) for text in unique.texts()]
        columns = [[p.first for p in parts], [p.middle for p in parts], [p.last for p in parts]]
        suffixes = [p.suffix for p in parts]
    else:
        first, middle, last, suffix = _split_raw_many(unique.array)
        first, _ = arrow.strip_names(first)
        last, last_suffix = arrow.strip_names(last)
        columns = [first, arrow.clean_names(middle), last]
        suffixes = pc.coalesce(suffix, last_suffix)
    names = ("first_name", "middle_name", "last_name", "name_suffix")
    return pd.DataFrame(
        {
            name: take(unique.codes, values, series.index)
            for name, values in zip(
                names, [*map(_as_values, columns), _as_values(suffixes)], strict=True
            )
        },
        index=series.index,
    )


def _split_raw_many(texts: pa.StringArray) -> list[pa.StringArray]:
    """:func:`_split_raw` of each text that is a name (else nulls): first, middle and last
    as written and the standard suffix. Plain names and "Last, First" are split in
    Arrow, others in Python."""
    plain = arrow.split_plain(texts)
    comma = arrow.split_comma(texts)  # never one that split_plain decides (a comma)
    named = np.asarray(pc.is_valid(arrow.clean_names(texts)).to_numpy(zero_copy_only=False))
    in_python = named & ~plain.decided & ~comma.decided
    raw = [_split_raw(text) for text in pc.filter(texts, pa.array(in_python)).to_pylist()]
    parts = []
    in_arrow = zip(
        (plain.first, plain.middle, plain.last, plain.suffix),
        (comma.first, comma.middle, comma.last, comma.suffix),
        strict=True,
    )
    for at, (by_plain, by_comma) in enumerate(in_arrow):
        decided = pc.if_else(pa.array(comma.decided), by_comma, by_plain)
        part = pc.replace_with_mask(
            decided, pa.array(in_python), pa.array([r[at] for r in raw], pa.string())
        )
        parts.append(pc.if_else(pa.array(named), part, pa.scalar(None, pa.string())))
    return parts


def _full_names_from_commas(
    texts: pa.StringArray,
) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    """:func:`clean_full_name` of the "Last, First" texts :func:`arrow.split_comma`
    reads: which it read, and their names and suffixes (in that order)."""
    comma = arrow.split_comma(texts)
    done = comma.decided & np.asarray(
        pc.is_valid(arrow.clean_names(texts)).to_numpy(zero_copy_only=False), dtype=bool
    )
    chosen = pa.array(done)
    first, _ = arrow.strip_names(pc.filter(comma.first, chosen))
    last, last_suffix = arrow.strip_names(pc.filter(comma.last, chosen))
    middle = arrow.clean_names(pc.filter(comma.middle, chosen))
    # Missing parts as "" and the spaces they leave collapsed (the cleaned parts hold
    # single spaces): joining with null_handling="skip" drops rows whose parts are all
    # missing in the pyarrow of requirements.lock.
    parts = [pc.fill_null(part, "") for part in (first, middle, last)]
    full = pc.utf8_trim(
        pc.replace_substring_regex(pc.binary_join_element_wise(*parts, " "), " +", " "), " "
    )
    full = pc.if_else(pc.equal(full, ""), pa.scalar(None, pa.string()), full)
    return done, full.to_pylist(), last_suffix.to_pylist()


def _as_values(values: pa.Array | list[str | None]) -> list[str | None] | np.ndarray:
    return vec.to_objects(values) if isinstance(values, pa.Array) else values


def _strip_many(unique: vec.UniqueTexts) -> tuple[np.ndarray, np.ndarray]:
    """:func:`strip_titles_suffixes` of each distinct text, as writable object arrays."""
    if unique.array is None:
        results = [strip_titles_suffixes(text) for text in unique.texts()]
        names = np.array([name for name, _ in results], dtype=object)
        return names, np.array([suffix for _, suffix in results], dtype=object)
    names, suffixes = arrow.strip_names(unique.array)
    return vec.to_objects(names), vec.to_objects(suffixes)
