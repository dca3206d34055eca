"""Pure value cleaning: names, dates, emails, phones, postcodes, free text and locale.

Every function here is pure (no I/O, no state beyond caches). Standardised text is
lowercase ASCII with single spaces; a missing or placeholder value is None. The
``*_column`` functions clean each distinct value once, so they suit million-row
columns, and :func:`standardise_frame` applies them all to a source frame.
"""

from mdm.standardise.countries import country_of, country_of_region
from mdm.standardise.dates import (
    DateOrder,
    DateOrderEvidence,
    choose_day_month_order,
    infer_day_month_order,
    parse_date,
    standardise_date,
    standardise_date_column,
)
from mdm.standardise.emails import (
    clean_email,
    email_local_part,
    is_name_like_email,
    standardise_email_column,
)
from mdm.standardise.frame import (
    SUFFIX_COLUMN,
    StandardiseOptions,
    StandardiseReport,
    standardise_frame,
)
from mdm.standardise.locale import (
    LocaleChoice,
    SourceLocale,
    decide_source_locale,
    detect_phone_region,
)
from mdm.standardise.names import (
    SUFFIXES,
    TITLES,
    NameParts,
    clean_full_name,
    clean_name,
    normalise_suffix,
    split_full_name,
    split_full_name_column,
    standardise_full_name_column,
    standardise_name_column,
    standardise_name_column_with_suffix,
    strip_titles_suffixes,
)
from mdm.standardise.phones import (
    clean_phone,
    standardise_phone_column,
    standardise_phone_column_by_region,
)
from mdm.standardise.postcodes import (
    clean_postcode,
    postcode_district,
    repair_postcode,
    standardise_postcode_column,
    standardise_postcode_column_by_country,
)
from mdm.standardise.text import (
    ADDRESS_ABBREVIATIONS,
    clean_address,
    clean_gender,
    clean_text,
    fold,
    standardise_address_column,
    standardise_gender_column,
    standardise_text_column,
)

__all__ = [
    "ADDRESS_ABBREVIATIONS",
    "SUFFIXES",
    "SUFFIX_COLUMN",
    "TITLES",
    "DateOrder",
    "DateOrderEvidence",
    "LocaleChoice",
    "NameParts",
    "StandardiseOptions",
    "SourceLocale",
    "StandardiseReport",
    "clean_address",
    "clean_email",
    "clean_full_name",
    "clean_gender",
    "clean_name",
    "clean_phone",
    "clean_postcode",
    "clean_text",
    "choose_day_month_order",
    "country_of",
    "country_of_region",
    "decide_source_locale",
    "detect_phone_region",
    "email_local_part",
    "fold",
    "infer_day_month_order",
    "is_name_like_email",
    "normalise_suffix",
    "parse_date",
    "postcode_district",
    "repair_postcode",
    "split_full_name",
    "split_full_name_column",
    "standardise_address_column",
    "standardise_date",
    "standardise_date_column",
    "standardise_email_column",
    "standardise_frame",
    "standardise_full_name_column",
    "standardise_gender_column",
    "standardise_name_column",
    "standardise_name_column_with_suffix",
    "standardise_phone_column",
    "standardise_phone_column_by_region",
    "standardise_postcode_column",
    "standardise_postcode_column_by_country",
    "standardise_text_column",
    "strip_titles_suffixes",
]
