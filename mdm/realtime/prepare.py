"""One record standardised and featurised in microseconds, exactly as the bulk path does it.

The bulk path runs :func:`mdm.standardise.frame.standardise_frame` and then
:func:`mdm.linkage.features.add_features` over a whole source frame; on one record
that costs about 20 ms of pandas and Arrow overhead. :func:`prepare_record` gives the
same row with the same scalar functions those column functions are twins of, each
behind a per-value cache, in tens of microseconds. ``tests/realtime/test_prepare.py``
checks the two agree column by column on generated sources and on arbitrary text.

Two things the bulk path decides per source, not per record:

* **Day/month order.** Pass the order recorded for the record's source in
  ``options.date_order``. With "auto" the single value is its own evidence, as in a
  one-row frame: "25/12/1980" and "12/25/1980" are read the only way they can be,
  and an ambiguous "03/04/1980" is read day first (3 April), the bulk default when
  no value settles the order. So "auto" on one record reads every date as "dmy"
  does; :attr:`PreparedRecord.date_order` says which order was used. The source's
  country breaks a tie as in bulk (a US source reads "03/04/1980" as March 4).
* **Locale.** Pass the source's locale in ``options.locale`` (the engine gives the
  one its bulk runs decided) or its configured ``options.default_region``; with
  neither, the record's own phone number and postcode are the values it is detected
  from, as in a one-row frame. The record's own country or region comes first.
* **Placeholders by frequency** (:func:`mdm.placeholders.blank_placeholders`) need
  the whole store and are not applied here; placeholders known on sight
  ("noemail@...", "0000000000", "n/a") are removed as in bulk.

A missing derived string is None here; in the bulk frame the Arrow-sliced feature
columns (first_initial, dob_year, ...) are pandas ``str`` columns holding NaN. Both
are NULL once in DuckDB.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mdm.linkage.features import VariantGroups, record_features
from mdm.schema import ATTRIBUTES
from mdm.standardise._columns import Cleaned, Status
from mdm.standardise.countries import record_country
from mdm.standardise.dates import DateOrder, _classify_date, choose_day_month_order
from mdm.standardise.emails import _classify_email
from mdm.standardise.frame import SUFFIX_COLUMN, StandardiseOptions
from mdm.standardise.identifiers import clean_national_id
from mdm.standardise.locale import SourceLocale, decide_source_locale
from mdm.standardise.names import clean_full_name, split_full_name, strip_titles_suffixes
from mdm.standardise.phones import _checked_region, _classify_phone
from mdm.standardise.postcodes import _classify_postcode, repair_postcode
from mdm.standardise.text import clean_address, clean_gender, clean_text

#: Distinct values remembered per cleaning function.
CACHE_SIZE = 1 << 16


@dataclass(frozen=True)
class PreparedRecord:
    """One record as the bulk path makes it, ready to be matched.

    Attributes:
        values: Column -> value, the columns and values ``standardise_frame`` then
            ``add_features`` give a one-row frame of the record, in their order: the
            record's own keys (unknown keys passed through untouched), every schema
            attribute standardised, ``name_suffix`` and the derived columns. Values are
            str, list[str] (name variants), bool (email_name_like) or None.
        unparseable: The attributes that had a value which could not be standardised
            (what the bulk report counts as unparseable), in schema order.
        date_order: The day/month order used for date_of_birth ("dmy" or "mdy").
        local_only: The attributes holding a phone number without its area code
            (missing for matching; what the bulk report counts as local_only).
    """

    values: dict[str, Any]
    unparseable: tuple[str, ...]
    date_order: DateOrder
    local_only: tuple[str, ...] = ()


def prepare_record(
    record: Mapping[str, Any],
    options: StandardiseOptions,
    groups: VariantGroups,
    *,
    extra_columns: Sequence[str] = (),
) -> PreparedRecord:
    """Standardise one record and add its derived columns, as the bulk path would.

    Args:
        record: Schema attributes (missing keys are missing values), ``record_id``,
            ``source``, optionally ``updated_at`` and any other keys; values are str
            or None.
        options: How to read the record's source (phone region, day/month order).
        groups: The name variant groups (``build_variant_groups`` of the store's pairs).
        extra_columns: Extra attributes the match rules compare: these keys are cleaned
            like free text, as :func:`mdm.bulk.load.add_extra_columns` does (None when absent).

    Raises:
        ValueError: ``options.default_region`` is not a phone region.
    """
    raw = {name: record.get(name) for name in ATTRIBUTES}
    clean = _standardise_names(raw)
    clean["gender"] = _clean_gender(raw["gender"])
    clean["national_id"] = _clean_national_id(raw["national_id"])
    clean["address_line"] = _clean_address(raw["address_line"])
    for name in ("city", "region", "country"):
        clean[name] = _clean_text(raw[name])
    own = _record_country(raw["country"], raw["region"])
    locale = options.locale or _source_locale(
        options.default_region, raw["phone"], raw["postcode"], own
    )
    order = _date_order(raw["date_of_birth"], options, locale.country)
    checked = {
        "date_of_birth": _date(raw["date_of_birth"], order),
        "email": _email(raw["email"]),
        "phone": _phone(raw["phone"], own or locale.phone_region.value),
        "postcode": _postcode(raw["postcode"], own or locale.postcode_country.value),
    }
    for name, (value, _) in checked.items():
        clean[name] = value

    values = dict(record)  # like the frame: own keys in place, the rest appended
    for name in (*ATTRIBUTES, SUFFIX_COLUMN):
        values[name] = clean[name]
    values.update(record_features(values, groups))
    for name in extra_columns:
        values[name] = _clean_text(record.get(name))
    unparseable = tuple(name for name, (_, status) in checked.items() if status == Status.INVALID)
    local = tuple(name for name, (_, status) in checked.items() if status == Status.LOCAL)
    return PreparedRecord(values, unparseable, order, local)


def _standardise_names(raw: Mapping[str, Any]) -> dict[str, str | None]:
    """The scalar twin of ``frame._standardise_names``: name parts filled from full_name
    when first and last are both missing, full_name composed from the parts when it is,
    and the suffix of the last name, else first, middle or full name."""
    first, first_suffix = _strip_name(raw["first_name"])
    middle, middle_suffix = _strip_name(raw["middle_name"])
    last, last_suffix = _strip_name(raw["last_name"])
    full, full_suffix = _clean_full_name(raw["full_name"])
    if first is None and last is None and full is not None:
        parts = _split_full_name(raw["full_name"])
        first, last, full_suffix = parts.first, parts.last, parts.suffix
        middle = parts.middle if middle is None else middle
    if full is None and (first is not None or last is not None):
        full = " ".join(part for part in (first, middle, last) if part is not None)
    suffixes = (last_suffix, first_suffix, middle_suffix, full_suffix)
    return {
        "first_name": first,
        "middle_name": middle,
        "last_name": last,
        "full_name": full,
        SUFFIX_COLUMN: next((suffix for suffix in suffixes if suffix is not None), None),
    }


def _date_order(value: object, options: StandardiseOptions, country: str | None) -> DateOrder:
    """The given order, or with "auto" the one a one-row frame of ``value`` would get."""
    if options.date_order != "auto":
        return options.date_order
    return choose_day_month_order(() if value is None else (value,), country)[0].order


# Per-value caches; every function cached returns immutable values (str, None, tuples,
# NameParts). Typed: 1, 1.0 and True are different values.
_cache = functools.lru_cache(maxsize=CACHE_SIZE, typed=True)
_strip_name = _cache(strip_titles_suffixes)
_clean_full_name = _cache(clean_full_name)
_split_full_name = _cache(split_full_name)
_clean_gender = _cache(clean_gender)
_clean_national_id = _cache(clean_national_id)
_clean_address = _cache(clean_address)
_clean_text = _cache(clean_text)
_date = _cache(_classify_date)
_email = _cache(_classify_email)
_record_country = _cache(record_country)


@_cache
def _source_locale(
    configured: str | None, phone: object, postcode: object, own: str | None
) -> SourceLocale:
    """The locale a one-row frame of this phone number, postcode and country would get."""
    return decide_source_locale(
        configured,
        () if phone is None else (phone,),
        () if postcode is None else (postcode,),
        {} if own is None else {own: 1},
    )


@_cache
def _postcode(value: object, country: str | None) -> Cleaned:
    return _classify_postcode(repair_postcode(value, country), None)


@_cache
def _phone(value: object, region: str | None) -> Cleaned:
    return _classify_phone(value, _checked_region(region))


_CACHES = (
    _strip_name,
    _clean_full_name,
    _split_full_name,
    _clean_gender,
    _clean_address,
    _clean_text,
    _date,
    _email,
    _postcode,
    _phone,
    _record_country,
    _source_locale,
)


def clear_caches() -> None:
    """Forget every cached value (to measure a cold start; never needed for correctness)."""
    for cache in _CACHES:
        cache.cache_clear()
