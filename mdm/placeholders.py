"""Placeholder values ("1970-01-01", "07000000000") found by frequency and blanked.

A value shared by far more records than real people share it is not evidence. Pure
functions over a frame of standardised records, and the same for a DuckDB table.
"""

from __future__ import annotations

import duckdb
import pandas as pd

#: Dates systems use when the real one is unknown.
KNOWN_PLACEHOLDER_DATES = frozenset({"1900-01-01", "1901-01-01", "1970-01-01", "2000-01-01"})

#: A contact value (email, phone) or national id seen on more records than this is
#: shared by too many people to identify one: a placeholder, a switchboard, a shop's
#: own address, a form's "000-00-0000" written some other way.
MAX_CONTACT_SHARE = 25

#: A date of birth this many times more common than an average date is a placeholder.
DATE_EXCESS = 20

#: When at least this many 1 January dates of different years are each that common,
#: the data records birth *years* on 1 January (old registers, forms that ask for the
#: year only): those dates are real, if coarse, and are kept. A system's placeholder is
#: one or two values, not a first of January for every year.
YEAR_ONLY_DATES = 5


def _date_placeholders(counts: pd.Series) -> set[str]:
    """Placeholder dates, from how many records hold each date."""
    if counts.empty:
        return set()
    average = counts.sum() / max(len(counts), 365)
    limit = max(MAX_CONTACT_SHARE, DATE_EXCESS * average)
    frequent = set(counts.index[counts > limit])
    year_only = {d for d in frequent if str(d).endswith("-01-01")} - KNOWN_PLACEHOLDER_DATES
    if len(year_only) >= YEAR_ONLY_DATES:
        frequent -= year_only
    known = {d for d in KNOWN_PLACEHOLDER_DATES if counts.get(d, 0) > max(3, 3 * average)}
    return frequent | known


def find_placeholders(frame: pd.DataFrame) -> dict[str, set[str]]:
    """Values per column that look like placeholders, by how often they occur."""
    return _found({c: frame[c].value_counts() for c in COUNTED if c in frame})


#: The columns whose values are counted for placeholders.
COUNTED = ("date_of_birth", "email", "phone", "national_id")
#: The derived columns a placeholder value empties with it.
DERIVED = {
    "date_of_birth": ("dob_year", "dob_month_day"),
    "email": ("email_local", "email_name_like"),
    "phone": ("phone_last7",),
    "national_id": (),
}


def _found(counts: dict[str, pd.Series]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for column, counted in counts.items():
        if column == "date_of_birth":
            found[column] = _date_placeholders(counted)
        else:
            found[column] = set(counted.index[counted > MAX_CONTACT_SHARE])
    return {column: values for column, values in found.items() if values}


def blank_placeholders_sql(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    """:func:`blank_placeholders` for a DuckDB table, in place: how many values per
    column were placeholders (counted and blanked by DuckDB, not in memory)."""
    columns = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    counts = {}
    for column in (c for c in COUNTED if c in columns):
        # only dates need every count (their average); contacts only the frequent ones
        having = "" if column == "date_of_birth" else f"HAVING count(*) > {MAX_CONTACT_SHARE}"
        rows = con.execute(
            f'SELECT "{column}", count(*) FROM {table} WHERE "{column}" IS NOT NULL '
            f"GROUP BY 1 {having}"
        ).fetchall()
        counts[column] = pd.Series([n for _, n in rows], index=[v for v, _ in rows], dtype="int64")
    blanked: dict[str, int] = {}
    for column, values in _found(counts).items():
        sets = [f'"{column}" = NULL'] + [
            f'"{extra}" = ' + ("false" if extra == "email_name_like" else "NULL")
            for extra in DERIVED[column]
            if extra in columns
        ]
        row = con.execute(
            f'UPDATE {table} SET {", ".join(sets)} WHERE list_contains(?, "{column}")',
            [sorted(values)],
        ).fetchall()
        blanked[column] = int(row[0][0]) if row else 0
    return blanked


def blank_placeholders(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return the frame with placeholder values set to None, and how many per column."""
    found = find_placeholders(frame)
    counts: dict[str, int] = {}
    if not found:
        return frame, counts
    frame = frame.copy()
    for column, values in found.items():
        hit = frame[column].isin(values)
        counts[column] = int(hit.sum())
        frame.loc[hit, column] = None
        for extra in DERIVED[column]:
            if extra in frame:
                frame.loc[hit, extra] = None if extra != "email_name_like" else False
    return frame, counts
