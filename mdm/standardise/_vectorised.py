"""Arrow kernels that clean many distinct values at once, for the million-row columns.

Each kernel reproduces a scalar function of this package exactly (the tests in
``tests/standardise/test_vectorised.py`` compare them on arbitrary text) and
leaves to that function whatever it cannot do in Arrow: accent folding happens in
Python before, and values Arrow cannot hold (lone surrogates) make the caller
fall back to the scalar function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii


def to_arrow(texts: Sequence[str | None]) -> pa.StringArray | None:
    """``texts`` as an Arrow array, or None when one cannot be encoded (lone surrogates)."""
    try:
        return pa.array(texts, type=pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        return None


def normalise_words(texts: Sequence[str | None]) -> pa.StringArray | None:
    """Arrow twin of :func:`mdm.standardise.text.normalise_words` (nulls stay null)."""
    folded = [t if t is None or t.isascii() else anyascii(t) for t in texts]
    array = to_arrow(folded)
    if array is None:
        return None
    array = pc.ascii_lower(array)
    array = pc.replace_substring_regex(array, pattern="['`]", replacement="")
    array = pc.replace_substring_regex(array, pattern="[^a-z0-9]+", replacement=" ")
    return pc.ascii_trim(array, characters=" ")


def null_if_in(array: pa.Array, values: Iterable[str]) -> pa.Array:
    """Null where ``array`` is empty or one of ``values``."""
    unwanted = pc.or_(pc.equal(array, ""), pc.is_in(array, value_set=pa.array(sorted(values))))
    return pc.if_else(unwanted, pa.scalar(None, pa.string()), array)


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
    """An Arrow string array as a numpy object array of str or None."""
    return array.to_numpy(zero_copy_only=False)
