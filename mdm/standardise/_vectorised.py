"""Arrow kernels that clean many distinct values at once, for the million-row columns.

Each kernel reproduces a scalar function of this package exactly (the tests in
``tests/standardise/test_vectorised.py`` compare them on arbitrary text). Arrow
does the ASCII work; what only Python does right (accent folding, Unicode
whitespace) is done in Python for the non-ASCII values alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii

from mdm.standardise._columns import MISSING_MARKERS, to_text

# What Python's str.strip() removes from ASCII text.
_ASCII_WHITESPACE = " \t\n\v\f\r\x1c\x1d\x1e\x1f"
_NULL = pa.scalar(None, pa.string())


def unique_text_array(series: pd.Series) -> tuple[np.ndarray, pa.StringArray | None]:
    """Factorize ``series`` and return the codes and each distinct value as text.

    The text is :func:`mdm.standardise._columns.to_text` of the value (trimmed,
    None for "n/a" and the like). The array is None when the values cannot be
    held by Arrow (lone surrogates); callers then clean value by value.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    try:
        array = pa.array(uniques, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, UnicodeEncodeError):
        array = None
    if array is not None and pa.types.is_large_string(array.type) or (
        array is not None and pa.types.is_string(array.type)
    ):
        return codes, _texts(array.cast(pa.string()))
    return codes, to_arrow([to_text(value) for value in uniques.tolist()])


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
    array = python_where_not_ascii(texts, texts, anyascii)
    array = pc.ascii_lower(array)
    array = pc.replace_substring_regex(array, pattern="['`]", replacement="")
    array = pc.replace_substring_regex(array, pattern="[^a-z0-9]+", replacement=" ")
    return pc.ascii_trim(array, characters=" ")


def null_if_in(array: pa.Array, values: Iterable[str], key: pa.Array | None = None) -> pa.Array:
    """Null where ``key`` (default ``array``) is empty or one of ``values``."""
    key = array if key is None else key
    unwanted = pc.or_(pc.equal(key, ""), pc.is_in(key, value_set=pa.array(sorted(values))))
    return pc.if_else(pc.fill_null(unwanted, False), _NULL, array)


def alternation(words: Iterable[str]) -> str:
    """A regex group matching any of ``words``, longest first."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"


def replace_words(array: pa.Array, replacements: Mapping[str, str]) -> pa.Array:
    """Replace whole words (``array`` holds single-spaced words) by their replacements."""
    for word, replacement in replacements.items():
        array = pc.replace_substring_regex(
            array, pattern=rf"\b{re.escape(word)}\b", replacement=replacement
        )
    return array


def map_values(array: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """``mapping[value]`` for each value, null where unmapped."""
    keys = list(mapping)
    positions = pc.index_in(array, value_set=pa.array(keys))
    return pc.take(pa.array([mapping[k] for k in keys], type=pa.string()), positions)


def to_objects(array: pa.Array) -> np.ndarray:
    """An Arrow string array as a writable numpy object array of str or None."""
    return np.array(array.to_pylist() + [None], dtype=object)[:-1]
