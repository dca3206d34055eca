"""Arrow kernels that clean many distinct values at once, for the million-row columns.

Each kernel reproduces a scalar function of this package exactly (the tests in
``tests/standardise/test_vectorised.py`` compare them on arbitrary text). Arrow
does the ASCII work; what only Python does right (accent folding, Unicode
whitespace) is done in Python for the non-ASCII values alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii

from mdm.standardise._columns import MISSING_MARKERS, to_text

# What Python's str.strip() removes from ASCII text.
_ASCII_WHITESPACE = " \t\n\v\f\r\x1c\x1d\x1e\x1f"
_NULL = pa.scalar(None, pa.string())
_CLEAN_WORDS = "^[a-z0-9]+(?: [a-z0-9]+)*$"


@dataclass(frozen=True)
class UniqueTexts:
    """The distinct values of a column as text, and where each row's value is.

    ``codes[i]`` is the position of row i's value, -1 when missing. The texts are
    :func:`mdm.standardise._columns.to_text` of each distinct value (trimmed, None
    for "n/a" and the like); ``array`` holds them in Arrow, or is None when Arrow
    cannot (lone surrogates), in which case callers clean value by value.
    """

    codes: np.ndarray
    array: pa.StringArray | None
    python: list[str | None] | None = None

    def texts(self) -> list[str | None]:
        """The texts as a Python list."""
        if self.python is not None:
            return self.python
        assert self.array is not None
        texts: list[str | None] = self.array.to_pylist()
        return texts


def unique_texts(series: pd.Series) -> UniqueTexts:
    """Factorize ``series`` into :class:`UniqueTexts`, in Arrow when the values are strings."""
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, UnicodeEncodeError):
        array = None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array is not None and _is_text(array.type):
        encoded = pc.dictionary_encode(array)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
        return UniqueTexts(codes, _texts(encoded.dictionary.cast(pa.string())))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [to_text(value) for value in uniques.tolist()]
    return UniqueTexts(codes, to_arrow(texts), texts)


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def to_arrow(texts: list[str | None]) -> pa.StringArray | None:
    """``texts`` as an Arrow array, or None when one cannot be encoded (lone surrogates)."""
    try:
        return pa.array(texts, type=pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        return None


def _texts(array: pa.StringArray) -> pa.StringArray:
    """Arrow twin of ``to_text`` for strings."""
    trimmed = pc.ascii_trim(array, characters=_ASCII_WHITESPACE)
    trimmed = python_where_not_ascii(trimmed, array, to_text)
    lowered = pc.ascii_lower(trimmed)
    return null_if_in(trimmed, MISSING_MARKERS, key=lowered)


def python_where_not_ascii(
    result: pa.Array, source: pa.StringArray, func: Callable[[str], str | None]
) -> pa.Array:
    """``result`` with the entries whose ``source`` is not ASCII replaced by ``func(source)``."""
    not_ascii = pc.invert(pc.fill_null(pc.string_is_ascii(source), True))
    if not pc.any(not_ascii).as_py():
        return result
    replacements = [func(text) for text in pc.filter(source, not_ascii).to_pylist()]
    return pc.replace_with_mask(result, not_ascii, pa.array(replacements, type=result.type))


def normalise_words(texts: pa.StringArray) -> pa.StringArray:
    """Arrow twin of :func:`mdm.standardise.text.normalise_words` (nulls stay null)."""
    array = pc.ascii_lower(python_where_not_ascii(texts, texts, anyascii))
    # Most values are already single-spaced words; clean only the others.
    dirty = pc.invert(pc.fill_null(pc.match_substring_regex(array, pattern=_CLEAN_WORDS), True))
    if not pc.any(dirty).as_py():
        return array
    words = pc.filter(array, dirty)
    words = pc.replace_substring_regex(words, pattern="['`]", replacement="")
    words = pc.replace_substring_regex(words, pattern="[^a-z0-9]+", replacement=" ")
    return pc.replace_with_mask(array, dirty, pc.ascii_trim(words, characters=" "))


def matching(array: pa.Array, pattern: str) -> pa.BooleanArray:
    """True where ``array`` contains a match of ``pattern``, False where not or null."""
    return pc.fill_null(pc.match_substring_regex(array, pattern=pattern), False)


def replace_matching(array: pa.Array, pattern: str, replacement: str) -> pa.Array:
    """``replace_substring_regex``, run only on the values that match (it is slow)."""
    found = matching(array, pattern)
    if not pc.any(found).as_py():
        return array
    replaced = pc.replace_substring_regex(
        pc.filter(array, found), pattern=pattern, replacement=replacement
    )
    return pc.replace_with_mask(array, found, replaced)


def extract_matching(array: pa.Array, pattern: str) -> pa.StringArray:
    """The first group of ``pattern`` (groups must be named) where ``array`` matches, else null."""
    found = matching(array, pattern)
    result = pa.nulls(len(array), pa.string())
    if not pc.any(found).as_py():
        return result
    groups = pc.extract_regex(pc.filter(array, found), pattern=pattern)
    return pc.replace_with_mask(result, found, pc.struct_field(groups, [0]))


def null_if_in(array: pa.Array, values: Iterable[str], key: pa.Array | None = None) -> pa.Array:
    """Null where ``key`` (default ``array``) is empty or one of ``values``."""
    key = array if key is None else key
    unwanted = pc.or_(pc.equal(key, ""), pc.is_in(key, value_set=pa.array(sorted(values))))
    return pc.if_else(pc.fill_null(unwanted, False), _NULL, array)


def alternation(words: Iterable[str], *, escape: bool = True) -> str:
    """A regex group matching any of ``words`` (regexes if not ``escape``), longest first."""
    ordered = sorted(words, key=lambda w: (-len(w), w))
    return "(?:" + "|".join(re.escape(w) if escape else w for w in ordered) + ")"


def replace_words(array: pa.Array, replacements: Mapping[str, str]) -> pa.Array:
    """Replace whole words (``array`` holds single-spaced words) by their replacements."""
    lists = pc.split_pattern(array, pattern=" ")
    words = lists.flatten()
    words = pc.coalesce(map_values(words, replacements), words)
    rebuilt = pa.ListArray.from_arrays(lists.offsets, words, mask=lists.is_null())
    return pc.binary_join(rebuilt, " ")


def map_values(array: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """``mapping[value]`` for each value, null where unmapped."""
    keys = list(mapping)
    positions = pc.index_in(array, value_set=pa.array(keys))
    return pc.take(pa.array([mapping[k] for k in keys], type=pa.string()), positions)


def to_objects(array: pa.Array) -> np.ndarray:
    """An Arrow string array as a writable numpy object array of str or None."""
    return np.array(array.to_pylist(), dtype=object)
