"""Source mappings (``sources/<name>.yaml`` beside a rules file): file columns onto the
customer schema. A source without one is read by its headers (:mod:`mdm.headers`); the
demo's mappings live with its sample (``mdm/data/sample/sources/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mdm.rules.yamlfile import load_model
from mdm.schema import ATTRIBUTES

#: Keys a mapping may give: the schema attributes, the record id and a change time.
MAPPABLE = ("record_id", *ATTRIBUTES, "updated_at")


class SourceOptions(BaseModel):
    """How to read and standardise one source.

    ``default_region`` is the source's country (ISO 3166 alpha-2) for records whose own
    country or region column does not name one: the region of phone numbers without a
    country code and the country of postcodes. Left out, it is detected from the
    source's phone numbers (the region where most are valid), else GB.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    date_order: Literal["auto", "dmy", "mdy"] = "auto"
    default_region: str | None = Field(None, min_length=2, max_length=2)
    sheet: str | None = None


class SourceMapping(BaseModel):
    """Which column of a source file holds which schema attribute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    columns: dict[str, str] = {}
    options: SourceOptions = SourceOptions()

    @field_validator("columns")
    @classmethod
    def _known_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(MAPPABLE))
        if unknown:
            raise ValueError(
                f"unknown schema attribute(s) {unknown}; map onto: {', '.join(MAPPABLE)}"
            )
        targets = list(value.values())
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValueError(f"file column(s) {repeated} mapped to more than one attribute")
        return value


def load_source_mapping(path: Path) -> SourceMapping:
    """Load and validate a source mapping file."""
    return load_model(path, SourceMapping)


def find_source_mapping(rules_dir: Path, source: str) -> SourceMapping | None:
    """The mapping ``<rules_dir>/sources/<source>.yaml`` if there is one.

    ``rules_dir`` is the folder of the rules file in use (or the folder a caller passes
    instead, as ``mdm demo`` passes its sample's): never a built-in set of mappings.
    """
    path = rules_dir / "sources" / f"{source}.yaml"
    return load_source_mapping(path) if path.is_file() else None
