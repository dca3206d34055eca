"""The customer schema: the attributes every source is mapped onto."""

from __future__ import annotations

from typing import Final

#: Identity of a source record: the source system and its own id.
KEY_COLUMNS: Final = ("source", "record_id")

#: Person attributes of the customer schema, in display order.
ATTRIBUTES: Final = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "date_of_birth",
    "gender",
    "national_id",
    "email",
    "phone",
    "address_line",
    "city",
    "postcode",
    "region",
    "country",
)

#: Every column of the customer schema.
SCHEMA_COLUMNS: Final = KEY_COLUMNS + ATTRIBUTES

#: Attributes holding person names.
NAME_ATTRIBUTES: Final = ("first_name", "middle_name", "last_name", "full_name")

#: Columns of the records table, in order: the key, the schema's attributes (standardised)
#: and the features derived from them for matching.
RECORD_COLUMNS = (
    "source", "record_id", "first_name", "middle_name", "last_name", "full_name",
    "date_of_birth", "gender", "national_id", "email", "phone", "address_line", "city", "postcode",
    "region", "country", "name_suffix", "updated_at", "first_name_phonetic",
    "middle_name_phonetic", "last_name_phonetic", "first_name_variants",
    "middle_name_variants", "first_initial", "dob_year", "dob_month_day",
    "postcode_district", "email_local", "email_name_like", "phone_last7",
)  # fmt: skip
