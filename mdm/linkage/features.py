"""Derived columns that comparisons and blocking rules use: phonetic codes, variant keys.

Computed once per distinct value, so a million records with fifty thousand distinct
names cost fifty thousand phonetic codes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.standardise.emails import LOCAL_NOISE, is_name_like_local_part

NAME_COLUMNS = ("first_name", "middle_name", "last_name")
VARIANT_COLUMNS = ("first_name", "middle_name")

VariantGroups = Mapping[str, tuple[str, ...]]


def phonetic_code(name: str) -> str | None:
    """The metaphone code of a cleaned name (jellyfish), or None when it has none."""
    code = jellyfish.metaphone(name.replace(" ", ""))
    return code or None


def _map_unique(series: pd.Series, func: Callable[[str], object]) -> pd.Series:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([func(value) for value in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=series.index, dtype=object)


def record_variant_keys(name: str, groups: VariantGroups) -> list[str]:
    """The group keys of a cleaned name, for the known-variant level.

    Unlike :func:`mdm.names.reference.variant_keys`, a multi-word name ("mary ann")
    also carries the keys of each of its words.
    """
    keys = groups.get(name)
    if keys is None:
        # A multi-word name ("mary ann") matches on any of its words' keys.
        words = name.split()
        found = {key for word in words for key in groups.get(word, (word,))}
        return sorted(found | {name})
    return list(keys)


def name_like_emails(email: pd.Series, first: pd.Series, last: pd.Series) -> np.ndarray:
    """Vectorised :func:`mdm.standardise.emails.is_name_like_email` over cleaned names."""
    emails = pa.array(email.to_numpy(dtype=object), type=pa.string())
    local = pc.list_element(pc.split_pattern(emails, "@", max_splits=1), 0)
    local = pc.list_element(pc.split_pattern(local, "+", max_splits=1), 0)
    local = pc.replace_substring_regex(local, LOCAL_NOISE, "")

    def squashed(series: pd.Series) -> pa.Array:
        names = pa.array(series.to_numpy(dtype=object), type=pa.string())
        return pc.fill_null(pc.replace_substring(names, " ", ""), "")

    given, family = squashed(first), squashed(last)
    g0, f0 = pc.utf8_slice_codeunits(given, 0, 1), pc.utf8_slice_codeunits(family, 0, 1)

    def join(*parts: pa.Array) -> pa.Array:
        return pc.binary_join_element_wise(*parts, "")

    both = pc.and_(pc.not_equal(given, ""), pc.not_equal(family, ""))
    combined = pc.is_in(local, value_set=pa.array([], pa.string()))  # all false, typed
    for candidate in (
        join(given, family),
        join(family, given),
        join(g0, family),
        join(given, f0),
        join(family, g0),
    ):
        combined = pc.or_(combined, pc.equal(local, candidate))
    alone = pc.or_(
        pc.and_(pc.equal(local, given), pc.not_equal(given, "")),
        pc.and_(pc.equal(local, family), pc.not_equal(family, "")),
    )
    hit = pc.and_(pc.or_(alone, pc.and_(both, combined)), pc.not_equal(local, ""))
    return _numpy(pc.fill_null(hit, False)).astype(bool)


def _slice(series: pd.Series, start: int, stop: int | None = None) -> np.ndarray:
    """A substring of each value (None where missing or empty), with Arrow's kernels."""
    text = pa.array(series.to_numpy(dtype=object), type=pa.string())
    if start < 0:
        length = pc.utf8_length(text)
        part = pc.utf8_slice_codeunits(text, start, stop or 2**31 - 1)
        part = pc.if_else(pc.less(length, -start), text, part)
    else:
        part = pc.utf8_slice_codeunits(text, start, stop if stop is not None else 2**31 - 1)
    part = pc.if_else(pc.equal(part, ""), pa.scalar(None, pa.string()), part)
    return _numpy(part)


def _numpy(array: pa.Array) -> np.ndarray:
    """An Arrow array as numpy (objects where it holds text)."""
    values: np.ndarray = array.to_numpy(zero_copy_only=False)
    return values


def postcode_districts(postcode: pd.Series) -> np.ndarray:
    """The district of each cleaned postcode: the part before the space of a UK-style
    postcode ("SW1A 1AA" -> "SW1A"), else the first three characters."""
    text = pa.array(postcode.to_numpy(dtype=object), type=pa.string())
    outward = pc.list_element(pc.split_pattern(text, " ", max_splits=1), 0)
    head = pc.utf8_slice_codeunits(text, 0, 3)
    return _numpy(pc.if_else(pc.match_substring(text, " "), outward, head))


def add_features(frame: pd.DataFrame, groups: VariantGroups) -> pd.DataFrame:
    """Return ``frame`` with the derived key columns added (standardised input)."""
    out = frame.copy()
    for column in NAME_COLUMNS:
        out[f"{column}_phonetic"] = _map_unique(out[column], phonetic_code)
    for column in VARIANT_COLUMNS:
        out[f"{column}_variants"] = _map_unique(
            out[column], lambda n: record_variant_keys(n, groups)
        )
    out["first_initial"] = _slice(out["first_name"], 0, 1)
    out["dob_year"] = _slice(out["date_of_birth"], 0, 4)
    out["dob_month_day"] = _slice(out["date_of_birth"], 5)
    out["postcode_district"] = postcode_districts(out["postcode"])
    email = pa.array(out["email"].to_numpy(dtype=object), type=pa.string())
    local = pc.list_element(pc.split_pattern(email, "@", max_splits=1), 0)
    out["email_local"] = local.to_numpy(zero_copy_only=False)
    out["email_name_like"] = name_like_emails(out["email"], out["first_name"], out["last_name"])
    out["phone_last7"] = _slice(out["phone"], -7)
    return out


def record_features(record: Mapping[str, Any], groups: VariantGroups) -> dict[str, Any]:
    """The columns :func:`add_features` adds, for one standardised record, in its order.

    Values are str, list[str], bool or None: where pandas holds a missing string as
    NaN (the Arrow-sliced columns), this holds None.
    """
    features: dict[str, Any] = {}
    for column in NAME_COLUMNS:
        name = record[column]
        features[f"{column}_phonetic"] = None if name is None else phonetic_code(name)
    for column in VARIANT_COLUMNS:
        name = record[column]
        keys = None if name is None else record_variant_keys(name, groups)
        features[f"{column}_variants"] = keys
    first, last, email = record["first_name"], record["last_name"], record["email"]
    features["first_initial"] = _part(first, 0, 1)
    features["dob_year"] = _part(record["date_of_birth"], 0, 4)
    features["dob_month_day"] = _part(record["date_of_birth"], 5)
    features["postcode_district"] = _district(record["postcode"])
    local = None if email is None else email.split("@", 1)[0]
    features["email_local"] = local
    features["email_name_like"] = local is not None and is_name_like_local_part(
        local, _squashed(first), _squashed(last)
    )
    features["phone_last7"] = _part(record["phone"], -7)
    return features


def _part(text: str | None, start: int, stop: int | None = None) -> str | None:
    """Scalar twin of :func:`_slice`: ``text[start:stop]``, None where missing or empty."""
    return None if text is None else text[start:stop] or None


def _district(postcode: str | None) -> str | None:
    """Scalar twin of :func:`postcode_districts`."""
    if postcode is None:
        return None
    return postcode.split(" ", 1)[0] if " " in postcode else postcode[:3]


def _squashed(name: str | None) -> str:
    return "" if name is None else name.replace(" ", "")
