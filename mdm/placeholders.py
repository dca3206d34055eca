"""Placeholder values ("1970-01-01", "07000000000") found by frequency and blanked.

A value shared by far more records than real people share it is not evidence. Pure
functions over a frame of standardised records.
"""

from __future__ import annotations

import pandas as pd

#: Dates systems use when the real one is unknown.
KNOWN_PLACEHOLDER_DATES = frozenset({"1900-01-01", "1901-01-01", "1970-01-01", "2000-01-01"})

#: A contact value (email, phone) seen on more records than this is shared by too many
#: people to identify one: a placeholder, a switchboard, a shop's own address.
MAX_CONTACT_SHARE = 25

#: A date of birth this many times more common than an average date is a placeholder.
DATE_EXCESS = 20


def _date_placeholders(dates: pd.Series) -> set[str]:
    counts = dates.value_counts()
    if counts.empty:
        return set()
    average = counts.sum() / max(len(counts), 365)
    limit = max(MAX_CONTACT_SHARE, DATE_EXCESS * average)
    frequent = set(counts.index[counts > limit])
    known = {d for d in KNOWN_PLACEHOLDER_DATES if counts.get(d, 0) > max(3, 3 * average)}
    return frequent | known


def find_placeholders(frame: pd.DataFrame) -> dict[str, set[str]]:
    """Values per column that look like placeholders, by how often they occur."""
    found: dict[str, set[str]] = {}
    if "date_of_birth" in frame:
        found["date_of_birth"] = _date_placeholders(frame["date_of_birth"].dropna())
    for column in ("email", "phone"):
        if column in frame:
            counts = frame[column].value_counts()
            found[column] = set(counts.index[counts > MAX_CONTACT_SHARE])
    return {column: values for column, values in found.items() if values}


def blank_placeholders(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return the frame with placeholder values set to None, and how many per column."""
    found = find_placeholders(frame)
    counts: dict[str, int] = {}
    if not found:
        return frame, counts
    frame = frame.copy()
    derived = {
        "date_of_birth": ("dob_year", "dob_month_day"),
        "email": ("email_local", "email_name_like"),
        "phone": ("phone_last7",),
    }
    for column, values in found.items():
        hit = frame[column].isin(values)
        counts[column] = int(hit.sum())
        frame.loc[hit, column] = None
        for extra in derived[column]:
            if extra in frame:
                frame.loc[hit, extra] = None if extra != "email_name_like" else False
    return frame, counts
