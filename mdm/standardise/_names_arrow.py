"""Arrow twins of the name functions in :mod:`mdm.standardise.names`, for whole columns.

``split_plain`` reads the common "[titles] first [middle...] last [suffixes]" names
as ``names._split_plain`` does, word by word in Arrow and numpy, and leaves every
other name (commas, particles, nicknames, non-ASCII leftovers) to Python.
``tests/standardise/test_vectorised.py`` checks they agree value by value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii

from mdm.standardise import _name_words as vocab
from mdm.standardise import _vectorised as vec

_NOT_PLAIN_CHARS = r"[,\"()\[\]{}<>]"
_PRINTABLE_ASCII = r"^[ -~]+$"
_ROMAN_NUMERAL = r"^(?:x|ix|iv|v?i{0,3})\.?$"


def clean_names(texts: pa.StringArray) -> pa.StringArray:
    """Arrow twin of ``names.clean_name``."""
    return vec.null_if_in(vec.normalise_words(texts), vocab.PLACEHOLDER_NAMES)


def strip_names(texts: pa.StringArray) -> tuple[pa.StringArray, pa.StringArray]:
    """Arrow twin of ``names.strip_titles_suffixes``: the names and the suffixes."""
    words = vec.replace_matching(clean_names(texts), vocab.LEADING_TITLES_PATTERN, "")
    suffix = vec.extract_matching(words, vocab.SUFFIX_PATTERN)
    names = vec.replace_matching(words, vocab.TRAILING_PATTERN, "")
    return (
        vec.null_if_in(names, vocab.PLACEHOLDER_NAMES),
        vec.map_values(suffix, vocab.GENERATIONAL),
    )


@dataclass(frozen=True)
class PlainSplit:
    """Raw parts of the names ``split_plain`` could read; ``decided`` marks them."""

    decided: np.ndarray
    first: list[str | None]
    middle: list[str | None]
    last: list[str | None]
    suffix: list[str | None]


def split_plain(texts: pa.StringArray) -> PlainSplit:
    """``names._split_plain`` of each text (after folding and spacing initials)."""
    text = vec.python_where_not_ascii(texts, texts, anyascii)
    text = vec.replace_matching(text, r"\.([A-Za-z])", r". \1")
    eligible = pc.and_(
        vec.matching(text, _PRINTABLE_ASCII), pc.invert(vec.matching(text, _NOT_PLAIN_CHARS))
    )
    lists = pc.ascii_split_whitespace(
        pc.ascii_trim(pc.if_else(eligible, text, pa.scalar(None, pa.string())), " ")
    )
    lengths = np.nan_to_num(pc.list_value_length(lists).to_numpy(zero_copy_only=False)).astype(
        np.int64
    )
    words = lists.flatten()
    row = np.repeat(np.arange(len(texts)), lengths)
    position = np.arange(len(words)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    start, end, plain = _core_bounds(words, row, position, lengths)

    core = end - start
    bad = np.bincount(
        row[~plain & (position >= start[row]) & (position < end[row])], minlength=len(texts)
    )
    decided = (core > 0) & ~((core == 1) & ((start > 0) | (end < lengths))) & (bad == 0)
    decided &= np.asarray(eligible.to_numpy(zero_copy_only=False), dtype=bool)

    offsets = np.cumsum(lengths) - lengths
    flat = words.to_numpy(zero_copy_only=False)
    first = [flat[o + s] if ok else None for o, s, ok in zip(offsets, start, decided, strict=True)]
    last = [
        (flat[o + e - 1] if e - s > 1 else "") if ok else None
        for o, s, e, ok in zip(offsets, start, end, decided, strict=True)
    ]
    return PlainSplit(
        decided,
        first,
        _middles(words, row, position, start, end, decided),
        last,
        _suffixes(words, row, position, end, decided),
    )


def _core_bounds(
    words: pa.StringArray, row: np.ndarray, position: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, where the name starts and ends between titles and suffixes; per word, if plain."""
    lower = pc.ascii_lower(words)
    key = pc.replace_substring(lower, ".", "")
    title = _is_in(key, vocab.TITLES)
    trailing = _is_in(key, vocab.TRAILING)

    start = lengths.copy()
    np.minimum.at(start, row[~title], position[~title])
    end = np.zeros_like(lengths)
    name_word = ~trailing & (position >= start[row])
    np.maximum.at(end, row[name_word], position[name_word] + 1)
    end = np.maximum(end, start)
    return start, end, _plain_words(lower)


def _plain_words(lower: pa.StringArray) -> np.ndarray:
    """Arrow twin of ``names._is_plain_word`` (on lowercased words)."""
    period = pc.and_(vec.matching(lower, r"\."), pc.invert(vec.matching(lower, r"^[a-z]\.$")))
    quoted = vec.matching(lower, r"^['`]|['`]$")
    roman = vec.matching(lower, _ROMAN_NUMERAL)
    special = pc.fill_null(
        pc.is_in(pc.ascii_trim(lower, "."), value_set=pa.array(sorted(vocab.SPECIAL_WORDS))),
        False,
    )
    before_hyphen = vec.extract_matching(lower, "^(?P<prefix>[^-]*)-")
    hyphen_prefix = _is_in(pc.binary_join_element_wise(before_hyphen, "-", ""), vocab.SPECIAL_WORDS)
    not_plain = pc.or_(pc.or_(period, quoted), pc.or_(roman, special))
    return ~(np.asarray(not_plain.to_numpy(zero_copy_only=False), dtype=bool) | hyphen_prefix)


def _middles(
    words: pa.StringArray,
    row: np.ndarray,
    position: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    decided: np.ndarray,
) -> list[str | None]:
    """The words strictly between the first and last name words, joined by spaces."""
    middle = (position > start[row]) & (position < end[row] - 1)
    counts = np.bincount(row[middle], minlength=len(start))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, words.filter(pa.array(middle))), " ")
    return [m if ok else None for m, ok in zip(joined.to_pylist(), decided, strict=True)]


def _suffixes(
    words: pa.StringArray,
    row: np.ndarray,
    position: np.ndarray,
    end: np.ndarray,
    decided: np.ndarray,
) -> list[str | None]:
    """The first generational suffix after the name words, standardised."""
    key = pc.replace_substring(pc.ascii_lower(words), ".", "")
    generational = vec.map_values(key, vocab.GENERATIONAL)
    found = np.asarray(pc.is_valid(generational).to_numpy(zero_copy_only=False), dtype=bool)
    found &= position >= end[row]
    first_found = np.full(len(end), len(words), dtype=np.int64)
    np.minimum.at(first_found, row[found], np.flatnonzero(found))
    values = generational.to_pylist()
    return [
        values[at] if ok and at < len(values) else None
        for at, ok in zip(first_found, decided, strict=True)
    ]


def _is_in(array: pa.Array, values: frozenset[str]) -> np.ndarray:
    found = pc.fill_null(pc.is_in(array, value_set=pa.array(sorted(values))), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
