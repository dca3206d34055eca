"""Arrow twins of the name functions in :mod:`mdm.standardise.names`, for whole columns.

``split_plain`` reads the common "[titles] first [middle...] last [suffixes]" names
as ``names._split_plain`` does, word by word in Arrow and numpy, and ``split_comma``
the "LAST, FIRST [MIDDLE]" of upper-case exports as ``names._split_comma`` does; they
leave every other name (titles or suffixes after a comma, particles, nicknames,
non-ASCII leftovers) to Python.
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
_NOT_PLAIN_BESIDE_COMMA = r"[\"()\[\]{}<>]"
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
    first: pa.StringArray
    middle: pa.StringArray
    last: pa.StringArray
    suffix: pa.StringArray


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
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy().astype(np.int64)
    words = Words.of(lists.flatten(), lengths)
    start, end = _core_bounds(words)
    core = end - start
    in_core = (words.position >= start[words.row]) & (words.position < end[words.row])
    bad = np.bincount(words.row[~words.plain & in_core], minlength=len(texts))
    decided = (core > 0) & ~((core == 1) & ((start > 0) | (end < lengths))) & (bad == 0)
    decided &= np.asarray(eligible.to_numpy(zero_copy_only=False), dtype=bool)

    last = pc.if_else(pa.array(core > 1), _pick(words.text, words.offsets + end - 1, decided), "")
    return PlainSplit(
        decided,
        _pick(words.text, words.offsets + start, decided),
        _middles(words, start, end, decided),
        pc.if_else(pa.array(decided), last, pa.scalar(None, pa.string())),
        _suffixes(words, end, decided),
    )


def split_comma(texts: pa.StringArray) -> PlainSplit:
    """``names._split_comma`` of each "Last, First [Middle...]" text whose given names
    have no title before them and no suffix after them (the common form); the others
    are left undecided. The parts are as written (the surname's words joined by one
    space), the suffix always missing."""
    texts = texts.cast(pa.string())  # a large_string column too
    text = vec.python_where_not_ascii(texts, texts, anyascii)
    text = vec.replace_matching(text, r"\.([A-Za-z])", r". \1")
    one_comma = pc.fill_null(pc.equal(pc.count_substring(text, ","), 1), False)
    eligible = pc.and_(
        pc.and_(vec.matching(text, _PRINTABLE_ASCII), one_comma),
        pc.invert(vec.matching(text, _NOT_PLAIN_BESIDE_COMMA)),
    )
    halves = pc.split_pattern(
        pc.if_else(eligible, text, pa.scalar(None, pa.string())), ",", max_splits=1
    )
    surname = _words_of(pc.list_element(halves, 0))
    given = _words_of(pc.list_element(halves, 1))
    surname_words = pc.fill_null(pc.list_value_length(surname), 0).to_numpy().astype(np.int64)
    lengths = pc.fill_null(pc.list_value_length(given), 0).to_numpy().astype(np.int64)
    words = Words.of(given.flatten(), lengths)
    opens_with_title = np.zeros(len(texts), dtype=bool)
    ends_with_trailing = np.zeros(len(texts), dtype=bool)
    opens_with_title[words.row[words.title & (words.position == 0)]] = True
    last_word = words.position == words.lengths[words.row] - 1
    ends_with_trailing[words.row[words.trailing & last_word]] = True
    decided = np.asarray(eligible.to_numpy(zero_copy_only=False), dtype=bool)
    decided &= (surname_words > 0) & (lengths > 0) & ~opens_with_title & ~ends_with_trailing
    last = pc.binary_join(surname, " ")
    return PlainSplit(
        decided,
        _pick(words.text, words.offsets, decided),
        _middles(words, np.zeros(len(texts), dtype=np.int64), lengths + 1, decided),
        pc.if_else(pa.array(decided), last, pa.scalar(None, pa.string())),
        pa.nulls(len(texts), pa.string()),
    )


def _words_of(texts: pa.StringArray) -> pa.ListArray:
    """Each text's words (split at runs of spaces); null for a text of none, as Python's
    ``str.split`` gives no words for it."""
    trimmed = pc.ascii_trim(texts, " ")
    blank = pc.fill_null(pc.equal(trimmed, ""), False)
    return pc.ascii_split_whitespace(pc.if_else(blank, pa.scalar(None, pa.string()), trimmed))


@dataclass(frozen=True)
class Words:
    """The words of many names, flattened, with what each word is.

    Words are classified once per distinct word: names repeat their words a lot.
    """

    text: pa.StringArray
    row: np.ndarray
    position: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    title: np.ndarray
    trailing: np.ndarray
    plain: np.ndarray
    generational: pa.StringArray

    @classmethod
    def of(cls, words: pa.StringArray, lengths: np.ndarray) -> Words:
        offsets = np.cumsum(lengths) - lengths
        encoded = pc.dictionary_encode(words)
        codes = encoded.indices.to_numpy()
        distinct = pc.ascii_lower(encoded.dictionary)
        key = pc.replace_substring(distinct, ".", "")
        return cls(
            text=words,
            row=np.repeat(np.arange(len(lengths)), lengths),
            position=np.arange(len(words)) - np.repeat(offsets, lengths),
            offsets=offsets,
            lengths=lengths,
            title=_is_in(key, vocab.TITLES)[codes],
            trailing=_is_in(key, vocab.TRAILING)[codes],
            plain=_plain_words(distinct)[codes],
            generational=pc.take(vec.map_values(key, vocab.GENERATIONAL), pa.array(codes)),
        )

    def first_per_row(self, values: np.ndarray, missing: int) -> np.ndarray:
        """The smallest of ``values`` in each row's words, ``missing`` for rows without words."""
        return self._reduce(np.minimum, values, missing)

    def last_per_row(self, values: np.ndarray, missing: int) -> np.ndarray:
        """The largest of ``values`` in each row's words, ``missing`` for rows without words."""
        return self._reduce(np.maximum, values, missing)

    def _reduce(self, ufunc: np.ufunc, values: np.ndarray, missing: int) -> np.ndarray:
        result = np.full(len(self.lengths), missing, dtype=np.int64)
        rows = self.lengths > 0
        if rows.any():
            result[rows] = ufunc.reduceat(values, self.offsets[rows])
        return result


def _pick(words: pa.StringArray, at: np.ndarray, rows: np.ndarray) -> pa.StringArray:
    """``words[at]`` for the ``rows``, null elsewhere."""
    return pc.take(words, pa.array(np.where(rows, at, 0), mask=~rows))


def _core_bounds(words: Words) -> tuple[np.ndarray, np.ndarray]:
    """Per row, where the name words start and end, between titles and suffixes."""
    never = np.iinfo(np.int64).max
    start = words.first_per_row(np.where(words.title, never, words.position), never)
    start = np.minimum(start, words.lengths)
    name_word = ~words.trailing & (words.position >= start[words.row])
    end = words.last_per_row(np.where(name_word, words.position + 1, 0), 0)
    return start, np.maximum(end, start)


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
    not_plain_words = np.asarray(not_plain.to_numpy(zero_copy_only=False), dtype=bool)
    plain: np.ndarray = ~(not_plain_words | hyphen_prefix)
    return plain


def _middles(
    words: Words, start: np.ndarray, end: np.ndarray, decided: np.ndarray
) -> pa.StringArray:
    """The words strictly between the first and last name words, joined by spaces."""
    middle = (words.position > start[words.row]) & (words.position < end[words.row] - 1)
    counts = np.bincount(words.row[middle], minlength=len(start))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    kept = words.text.filter(pa.array(middle))
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, kept), " ")
    return pc.if_else(pa.array(decided), joined, pa.scalar(None, pa.string()))


def _suffixes(words: Words, end: np.ndarray, decided: np.ndarray) -> pa.StringArray:
    """The first generational suffix after the name words, standardised."""
    found = np.asarray(pc.is_valid(words.generational).to_numpy(zero_copy_only=False))
    found &= words.position >= end[words.row]
    never = len(words.text)
    at = words.first_per_row(np.where(found, np.arange(never), never), never)
    return _pick(words.generational, at, decided & (at < never))


def _is_in(array: pa.Array, values: frozenset[str]) -> np.ndarray:
    found = pc.fill_null(pc.is_in(array, value_set=pa.array(sorted(values))), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
