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
