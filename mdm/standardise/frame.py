"""Standardising a whole source frame of customer-schema columns at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.errors import InputError
from mdm.schema import ATTRIBUTES, NAME_ATTRIBUTES
from mdm.standardise._columns import Status
from mdm.standardise.dates import (
    DateOrder,
    DateOrderEvidence,
    choose_day_month_order,
    standardise_date_column,
)
from mdm.standardise.emails import standardise_email_column
from mdm.standardise.identifiers import standardise_national_id_column
from mdm.standardise.locale import (
    LocaleChoice,
    SourceLocale,
    decide_source_locale,
    record_countries,
)
from mdm.standardise.names import (
    split_full_name_column,
    standardise_full_name_column,
    standardise_name_column_with_suffix,
)
from mdm.standardise.phones import standardise_phone_column_by_region
from mdm.standardise.postcodes import standardise_postcode_column_by_country
from mdm.standardise.text import (
    standardise_address_column,
    standardise_gender_column,
    standardise_text_column,
)

#: The column added beside the schema attributes: "jr", "sr", "ii", "iii", "iv" or None.
SUFFIX_COLUMN = "name_suffix"


#: A day/month order as a source's options give it: one, or "auto" (read from the data).
ChosenOrder = Literal["auto", "dmy", "mdy"]


@dataclass(frozen=True)
class StandardiseOptions:
    """How to read values that are ambiguous on their own.

    A record's own ``country`` (or the country its ``region`` names) always decides
    its phone region and postcode country; these options decide for the others.

    Attributes:
        default_region: ISO 3166 alpha-2 country of the source, configured: the region
            of phone numbers written without a country code and the country of its
            postcodes. None: detected from the values (see :mod:`.locale`), else GB.
        date_order: "dmy" or "mdy" for dates like "03/04/1980", or "auto" to
            decide per column from values that can only be read one way (the source's
            country breaking a tie: a US source reads "03/04/1980" as March 4).
        date_reason: Why ``date_order`` when it is not "auto" (for the report).
        locale: The source's locale decided already (from a first chunk of a long
            file); None decides it from this frame's values.
    """

    default_region: str | None = None
    date_order: ChosenOrder = "auto"
    date_reason: str = "configured"
    locale: SourceLocale | None = None

    def __post_init__(self) -> None:
        if self.date_order not in ("auto", "dmy", "mdy"):
            raise ValueError(f"date_order must be 'auto', 'dmy' or 'mdy', not {self.date_order!r}")


@dataclass
class StandardiseReport:
    """What standardising a frame decided and what it could not read.

    Attributes:
        date_order: The day/month order used for date_of_birth ("dmy" or "mdy").
        date_order_evidence: The evidence behind it when date_order was "auto".
        unparseable: Per column, the number of non-empty values that could not be
            standardised (placeholders such as "noemail@..." are not counted).
        locale: Why each choice was made: "phone_region", "postcode_country" and
            "date_order", each a :class:`LocaleChoice` for the records without a
            country of their own.
        own_country: Records whose own country or region decided, per country.
        local_only: Phone numbers possible only without their area code ("949-4255"):
            missing for matching, never evidence against a full number, not unparseable.
    """

    date_order: str
    date_order_evidence: DateOrderEvidence | None
    unparseable: dict[str, int] = field(default_factory=dict)
    locale: dict[str, LocaleChoice] = field(default_factory=dict)
    own_country: dict[str, int] = field(default_factory=dict)
    local_only: int = 0


def standardise_frame(
    frame: pd.DataFrame, options: StandardiseOptions | None = None
) -> tuple[pd.DataFrame, StandardiseReport]:
    """Standardise every customer-schema attribute of ``frame``.

    Returns a new frame with the same index and row order, every attribute of
    :data:`mdm.schema.ATTRIBUTES` present (missing ones all None) as object columns
    of ``str`` or None, a ``name_suffix`` column, and other columns untouched.
    """
    options = options or StandardiseOptions()
    raw = {name: _column(frame, name) for name in ATTRIBUTES}
    result = _standardise_names(raw)
    result["gender"] = standardise_gender_column(raw["gender"])
    result["national_id"] = standardise_national_id_column(raw["national_id"])
    result["address_line"] = standardise_address_column(raw["address_line"])
    for name in ("city", "region", "country"):
        result[name] = standardise_text_column(raw[name])

    report = _standardise_located(raw, result, options)

    out = frame.copy(deep=False)
    for name in (*ATTRIBUTES, SUFFIX_COLUMN):
        out[name] = result[name]
    return out, report


def _standardise_located(
    raw: dict[str, pd.Series], result: dict[str, pd.Series], options: StandardiseOptions
) -> StandardiseReport:
    """Dates, emails, phones and postcodes into ``result``, each record read in its own
    country, else in the source's locale; the report of what was decided and why."""
    own = record_countries(raw["country"], raw["region"])
    has_own = pd.notna(own)
    own_country = _counts(own)
    locale = options.locale or decide_source_locale(
        options.default_region, _distinct(raw["phone"]), _distinct(raw["postcode"]), own_country
    )
    order, evidence, reason = _date_order(raw["date_of_birth"], options, locale.country)
    report = StandardiseReport(order, evidence)
    report.locale = {
        "phone_region": locale.phone_region,
        "postcode_country": locale.postcode_country,
        "date_order": LocaleChoice(order, reason),
    }
    report.own_country = own_country
    result["date_of_birth"], report.unparseable["date_of_birth"] = standardise_date_column(
        raw["date_of_birth"], order
    )
    result["email"], report.unparseable["email"] = standardise_email_column(raw["email"])
    regions = np.where(has_own, own, np.array(locale.phone_region.value, dtype=object))
    result["phone"], counts = standardise_phone_column_by_region(raw["phone"], regions)
    report.unparseable["phone"] = int(counts[Status.INVALID])
    report.local_only = int(counts[Status.LOCAL])
    countries = np.where(has_own, own, np.array(locale.postcode_country.value, dtype=object))
    result["postcode"], report.unparseable["postcode"] = standardise_postcode_column_by_country(
        raw["postcode"], countries
    )
    return report


def decide_locale(frame: pd.DataFrame, default_region: str | None) -> SourceLocale:
    """The locale of a source from its configured region and the values of ``frame``
    (see :func:`mdm.standardise.locale.decide_source_locale`)."""
    own = record_countries(_column(frame, "country"), _column(frame, "region"))
    return decide_source_locale(
        default_region,
        _distinct(_column(frame, "phone")),
        _distinct(_column(frame, "postcode")),
        _counts(own),
    )


def _counts(own: np.ndarray) -> dict[str, int]:
    """Records per own country, by country."""
    present = own[pd.notna(own)]
    counts: dict[str, int] = pd.Series(present, dtype=object).value_counts().sort_index().to_dict()
    return counts


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(np.full(len(frame), None, dtype=object), index=frame.index, dtype=object)
    column = frame[name]
    if isinstance(column, pd.DataFrame):
        raise InputError(
            f"column {name!r} appears {column.shape[1]} times; map exactly one source column to it"
        )
    return column


def _distinct(column: pd.Series) -> np.ndarray:
    distinct: np.ndarray = pd.unique(column.dropna())
    return distinct


def _date_order(
    column: pd.Series, options: StandardiseOptions, country: str | None
) -> tuple[DateOrder, DateOrderEvidence | None, str]:
    """The day/month order for a date column and why; "auto" weighs each distinct value
    once, the source's ``country`` breaking a tie."""
    if options.date_order != "auto":
        return options.date_order, None, options.date_reason
    evidence, reason = choose_day_month_order(_distinct(column), country)
    return evidence.order, evidence, reason


def _standardise_names(raw: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """Clean the name columns, filling parts from full_name and full_name from parts.

    Works on positions, not index labels, so a repeated index is harmless.
    """
    index = raw["full_name"].index
    cleaned = {
        name: standardise_name_column_with_suffix(raw[name])
        for name in ("first_name", "middle_name", "last_name")
    }
    cleaned["full_name"] = standardise_full_name_column(raw["full_name"])
    names = {name: pair[0].to_numpy(dtype=object, copy=True) for name, pair in cleaned.items()}
    suffixes = {name: pair[1].to_numpy(dtype=object, copy=True) for name, pair in cleaned.items()}
    first, middle, last, full = (names[name] for name in NAME_ATTRIBUTES)

    split_at = np.flatnonzero(pd.isna(first) & pd.isna(last) & pd.notna(full))
    if len(split_at):
        parts = split_full_name_column(raw["full_name"].iloc[split_at])
        first[split_at] = parts["first_name"].to_numpy(dtype=object)
        last[split_at] = parts["last_name"].to_numpy(dtype=object)
        given_middle = middle[split_at]
        middle[split_at] = np.where(
            pd.isna(given_middle), parts["middle_name"].to_numpy(dtype=object), given_middle
        )
        suffixes["full_name"][split_at] = parts["name_suffix"].to_numpy(dtype=object)

    compose_at = np.flatnonzero(pd.isna(full) & (pd.notna(first) | pd.notna(last)))
    if len(compose_at):
        full[compose_at] = _join_names(first[compose_at], middle[compose_at], last[compose_at])

    suffix = np.full(len(index), None, dtype=object)
    for name in ("full_name", "middle_name", "first_name", "last_name"):
        present = pd.notna(suffixes[name])
        suffix[present] = suffixes[name][present]
    names[SUFFIX_COLUMN] = suffix
    return {name: pd.Series(values, index=index, dtype=object) for name, values in names.items()}


def _join_names(*parts: np.ndarray) -> np.ndarray:
    """Name parts joined row by row with single spaces, missing parts skipped."""
    arrays = [pa.array(part, type=pa.string(), from_pandas=True) for part in parts]
    joined = pc.binary_join_element_wise(*arrays, " ", null_handling="skip")
    return np.array(joined.to_pylist(), dtype=object)
