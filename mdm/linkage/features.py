"""Derived columns that comparisons and blocking rules use: phonetic codes, variant keys.

Computed once per distinct value, so a million records with fifty thousand distinct
names cost fifty thousand phonetic codes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jellyfish
import numpy as np
import pandas as pd

from mdm.standardise.emails import LOCAL_NOISE
from mdm.standardise.postcodes import postcode_district

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


def variant_keys(name: str, groups: VariantGroups) -> list[str]:
    """The group keys of a name: itself and every canonical name it is a variant of."""
    keys = groups.get(name)
    if keys is None:
        # A multi-word name ("mary ann") matches on any of its words' keys.
        words = name.split()
        found = {key for word in words for key in groups.get(word, (word,))}
        return sorted(found | {name})
    return list(keys)


def name_like_emails(email: pd.Series, first: pd.Series, last: pd.Series) -> np.ndarray:
    """Vectorised :func:`mdm.standardise.emails.is_name_like_email` over cleaned names."""
    like = np.zeros(len(email), dtype=bool)
    has = email.notna().to_numpy()
    if not has.any():
        return like
    local = (
        email[has]
        .str.split("@")
        .str[0]
        .str.split("+")
        .str[0]
        .str.replace(LOCAL_NOISE, "", regex=True)
    )
    given = first[has].fillna("").str.replace(" ", "")
    family = last[has].fillna("").str.replace(" ", "")
    both = (given != "") & (family != "")
    g0, f0 = given.str[:1], family.str[:1]
    combined = (
        (local == given + family)
        | (local == family + given)
        | (local == g0 + family)
        | (local == given + f0)
        | (local == family + g0)
    )
    hit = (
        ((local == given) & (given != ""))
        | ((local == family) & (family != ""))
        | (both & combined)
    )
    like[has] = (hit & (local != "")).to_numpy(dtype=bool)
    return like


def add_features(frame: pd.DataFrame, groups: VariantGroups) -> pd.DataFrame:
    """Return ``frame`` with the derived key columns added (standardised input)."""
    out = frame.copy()
    for column in NAME_COLUMNS:
        out[f"{column}_phonetic"] = _map_unique(out[column], phonetic_code)
    for column in VARIANT_COLUMNS:
        out[f"{column}_variants"] = _map_unique(out[column], lambda n: variant_keys(n, groups))
    out["first_initial"] = out["first_name"].str[:1]
    dob = out["date_of_birth"]
    out["dob_year"] = dob.str[:4]
    out["dob_month_day"] = dob.str[5:]
    out["postcode_district"] = _map_unique(out["postcode"], postcode_district)
    email = out["email"]
    out["email_local"] = email.str.split("@").str[0]
    out["email_name_like"] = name_like_emails(email, out["first_name"], out["last_name"])
    out["phone_last7"] = out["phone"].str[-7:]
    for column in ("first_initial", "dob_year", "dob_month_day", "email_local", "phone_last7"):
        out[column] = out[column].where(out[column].notna() & (out[column] != ""), None)
    return out
