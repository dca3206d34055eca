"""Which file column holds which schema attribute, from the column headers alone.

A file's header is read in any case, spacing and punctuation (``First Name``,
``first_name``, ``FIRST-NAME`` and ``FirstName`` are one header). A header names an
attribute when it is the attribute's own name or one of the synonyms people use for it
(:data:`SYNONYMS`). When several columns name one attribute, the one whose header comes
first in the attribute's list wins (the attribute's own name before any synonym; the
file's order breaks a tie); the others are left unused. An unused column is never
dropped: it stays with the record as an extra attribute.

Pure data and functions: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from mdm.rules.sources import MAPPABLE

#: Schema attribute -> the headers that also name it, most preferred first. A header
#: written here in any case or spacing matches; one header names one attribute.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "record_id": (
        "Customer ID", "Customer no", "Customer number", "Cust ID", "Cust no", "Client ID",
        "Account ID", "Account number", "Account no", "ID", "Ref", "Reference",
        "Customer ref", "Unique ID", "UID", "Rec ID", "Record no", "Person ID", "Contact ID",
    ),
    "first_name": ("Given name", "Given names", "Forename", "Forenames", "fname"),
    "middle_name": ("Middle names", "Middle initial", "mname"),
    "last_name": ("Surname", "Family name", "lname"),
    "full_name": ("Name", "Customer name", "Client name", "Contact name"),
    "date_of_birth": ("DOB", "Birth date", "Birthdate", "Birthday"),
    "gender": ("Sex",),
    "national_id": (
        "National ID number", "National identifier", "National number", "SSN",
        "Social security number", "Social security no", "Soc sec ID", "Soc sec no",
        "National insurance number", "National insurance no", "NI number", "NI no", "NINO",
        "Tax ID", "Tax number", "TIN", "SIN", "Social insurance number", "Personal number",
        "Personnummer", "Personal ID number",
    ),
    "email": ("Email address", "E-mail address"),
    "phone": (
        "Phone number", "Phone no", "Telephone", "Telephone number", "Tel", "Tel no",
        "Mobile", "Mobile number", "Mobile phone", "Cell", "Cell phone", "Landline",
        "Home phone",
    ),
    "address_line": (
        "Address line 1", "Address 1", "Address", "Street address", "Street", "addr1", "addr",
    ),
    "city": ("Town", "Town/City", "City/Town", "Locality", "Suburb"),
    "postcode": ("Post code", "Postal code", "Zip", "Zip code", "Zipcode"),
    "region": ("State", "Province", "County", "State/Province"),
    "country": ("Country name",),
}  # fmt: skip


class Basis(StrEnum):
    """How a column came to hold an attribute (the words a report shows)."""

    MAPPING = "source mapping"
    SCHEMA = "schema name"
    SYNONYM = "known synonym"


@dataclass(frozen=True)
class ColumnChoice:
    """One schema attribute, the file column that holds it, and why."""

    attribute: str
    column: str
    basis: Basis


@dataclass(frozen=True)
class ColumnMapping:
    """A source's columns onto the schema, and the columns left unused.

    Attributes:
        chosen: one entry per mapped attribute, in schema order.
        unused: the file's columns not mapped, in file order (kept as extra attributes).
        passed_over: unused column -> the attribute it also names, which another
            column holds.
    """

    chosen: tuple[ColumnChoice, ...]
    unused: tuple[str, ...]
    passed_over: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> dict[str, str]:
        """Schema attribute -> file column."""
        return {choice.attribute: choice.column for choice in self.chosen}

    def rows(self) -> list[dict[str, str]]:
        """The chosen columns as plain data: attribute, column and basis."""
        return [
            {"attribute": c.attribute, "column": c.column, "basis": str(c.basis)}
            for c in self.chosen
        ]

    def describe(self) -> str:
        """One line: what each column became, by what, and which columns were not used."""
        parts = []
        for basis in Basis:
            pairs = [f"{c.attribute} <- {c.column!r}" for c in self.chosen if c.basis == basis]
            if pairs:
                parts.append(f"by {basis}: {', '.join(pairs)}")
        unused = [self.unused_note(column) for column in self.unused]
        parts.append(
            f"not used (kept as extra attributes): {', '.join(unused)}" if unused else "all used"
        )
        return "; ".join(parts)

    def unused_note(self, column: str) -> str:
        """An unused column, and the attribute it also names if another column holds it."""
        attribute = self.passed_over.get(column)
        if attribute is None:
            return repr(column)
        return f"{column!r} (also {attribute}; {self.columns[attribute]!r} is used)"


def normalise_header(header: str) -> str:
    """The header in lower case with everything but letters and digits removed."""
    return re.sub(r"[\W_]+", "", header.casefold())


def _rank_table() -> dict[str, tuple[str, int]]:
    """Normalised header -> (attribute, preference: 0 is the attribute's own name)."""
    table: dict[str, tuple[str, int]] = {}
    for attribute in MAPPABLE:
        headers = (attribute, *SYNONYMS.get(attribute, ()))
        for rank, header in enumerate(headers):
            key = normalise_header(header)
            if key in table and table[key][0] != attribute:
                raise ValueError(f"header {header!r} names both {table[key][0]} and {attribute}")
            table.setdefault(key, (attribute, rank))
    return table


_RANKS = _rank_table()


def recognise_header(header: str) -> tuple[str, Basis] | None:
    """The schema attribute a header names, and whether by its own name or a synonym."""
    found = _RANKS.get(normalise_header(header))
    if found is None:
        return None
    attribute, rank = found
    return attribute, Basis.SCHEMA if rank == 0 else Basis.SYNONYM


def map_columns(columns: Sequence[str], given: Mapping[str, str] | None = None) -> ColumnMapping:
    """Map a file's columns onto the schema.

    Args:
        columns: the file's column headers, in file order.
        given: the source's own mapping (attribute -> column), if it names columns. It
            is followed as written; only columns named exactly as an attribute it leaves
            out are added. Without it, headers are recognised (:func:`recognise_header`).

    Returns:
        The chosen columns and the unused ones.
    """
    if given:
        chosen = {a: ColumnChoice(a, c, Basis.MAPPING) for a, c in given.items()}
        taken = set(given.values())
        for attribute in MAPPABLE:
            if attribute not in chosen and attribute in columns and attribute not in taken:
                chosen[attribute] = ColumnChoice(attribute, attribute, Basis.SCHEMA)
        return _mapping(columns, chosen, {})
    best: dict[str, tuple[int, int, ColumnChoice]] = {}
    named: dict[str, str] = {}
    for position, column in enumerate(columns):
        found = _RANKS.get(normalise_header(column))
        if found is None:
            continue
        attribute, rank = found
        named[column] = attribute
        exact = 0 if column == attribute else 1  # 'first_name' before 'First Name'
        basis = Basis.SCHEMA if rank == 0 else Basis.SYNONYM
        key = (rank * 2 + exact, position, ColumnChoice(attribute, column, basis))
        if attribute not in best or key[:2] < best[attribute][:2]:
            best[attribute] = key
    chosen = {attribute: entry[2] for attribute, entry in best.items()}
    used = {choice.column for choice in chosen.values()}
    passed_over = {c: a for c, a in named.items() if c not in used}
    return _mapping(columns, chosen, passed_over)


def _mapping(
    columns: Sequence[str], chosen: dict[str, ColumnChoice], passed_over: dict[str, str]
) -> ColumnMapping:
    ordered = tuple(chosen[a] for a in MAPPABLE if a in chosen)
    used = {choice.column for choice in ordered}
    unused = tuple(c for c in columns if c not in used)
    return ColumnMapping(ordered, unused, passed_over)


#: Words YAML reads as something other than text when written bare.
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}


def _yaml_text(text: str) -> str:
    """``text`` as a YAML scalar: bare when that reads back as the same text."""
    bare = re.fullmatch(r"[A-Za-z_][\w .()/-]*[\w.)]|[A-Za-z_]", text) is not None
    if bare and text.casefold() not in _YAML_WORDS and " #" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)  # JSON strings are YAML scalars


def mapping_yaml(mapping: ColumnMapping, source: str, file_name: str) -> str:
    """A source-mapping file (the format :func:`mdm.rules.sources.load_source_mapping`
    reads) for ``mapping``, with how each column was chosen and the unused columns as
    comments, for a person to review."""
    lines = [
        f"# Source mapping for '{source}', proposed from the headers of {file_name} by",
        "# 'mdm sources infer'. Review it, then keep it as sources/<source>.yaml beside your",
        "# rules file (mdm reconcile SOURCE=FILE --rules RULES reads it from there).",
        f"source: {_yaml_text(source)}",
        "columns:  # customer-schema attribute: column in the file",
    ]
    for choice in mapping.chosen:
        lines.append(f"  {choice.attribute}: {_yaml_text(choice.column)}  # {choice.basis}")
    if "record_id" not in mapping.columns:
        lines.append("  # record_id: <the column that identifies a record within the source>")
    unused = ", ".join(mapping.unused) or "none"
    lines += [
        f"# Not mapped (kept with each record as extra attributes): {unused}",
        "# options:  # only where the defaults do not fit",
        "#   date_order: auto  # dmy | mdy | auto (detected from the file's dates)",
        "#   default_region: GB  # country of phone numbers written without a country code",
        "#   sheet: Sheet1  # the Excel sheet to read (default: the first)",
    ]
    return "\n".join(lines) + "\n"
