"""Customer records, matches and golden records on the wire."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from api.schemas.common import Actor, ExtraName, Identifier, Request, Timestamp

if TYPE_CHECKING:
    from pydantic.config import JsonDict

Text = Annotated[str | None, Field(default=None, max_length=500)]
Key = Identifier

_EXAMPLE: JsonDict = {
    "source": "crm",
    "record_id": "C1000001",
    "first_name": "Bob",
    "last_name": "Smyth",
    "date_of_birth": "1980-03-12",
    "email": "bob.smyth@example.org",
    "phone": "07700 900123",
    "address_line": "12 High St",
    "city": "London",
    "postcode": "SW1A 1AA",
}


class CustomerRecord(Request):
    """One source record in the customer schema. ``source`` and ``record_id`` identify it;
    every attribute is optional; ``extra`` carries attributes outside the schema."""

    source: Key
    record_id: Key
    first_name: Text
    middle_name: Text
    last_name: Text
    full_name: Text
    date_of_birth: Text
    gender: Text
    national_id: Text
    email: Text
    phone: Text
    address_line: Text
    city: Text
    postcode: Text
    region: Text
    country: Text
    updated_at: Text
    extra: dict[ExtraName, Annotated[str | None, Field(max_length=2000)]] = Field(
        default_factory=dict, max_length=50
    )

    model_config = {"json_schema_extra": {"examples": [_EXAMPLE]}}

    def as_record(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class MatchRequest(CustomerRecord):
    """A record to look up (nothing is stored); ``source`` and ``record_id`` may be
    omitted."""

    source: Key = "api"
    record_id: Key = "query"
    limit: int = Field(default=5, ge=1, le=50, description="How many candidates to return.")

    model_config = {
        "json_schema_extra": {
            "examples": [{k: v for k, v in _EXAMPLE.items() if k not in ("source", "record_id")}]
        }
    }

    def as_record(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"limit"})


class RecordBatch(Request):
    """Up to the configured number of records, upserted one after another."""

    records: list[CustomerRecord] = Field(min_length=1)
    by: Actor = "api"

    model_config = {"json_schema_extra": {"examples": [{"records": [_EXAMPLE], "by": "crm-sync"}]}}


class ValueWarningPublic(BaseModel):
    """A value that could not be standardised: it was treated as missing (as a bulk run
    treats it) and kept as sent in the record's raw values."""

    field: str
    value: str
    reason: str


class ComparisonPublic(BaseModel):
    """One comparison of a pair: the level it hit and what that contributed."""

    comparison: str
    level: str
    gamma: int
    match_weight: float
    tf_adjustment: float
    #: per column: [left value, right value]
    values: dict[str, Annotated[list[Any], Field(min_length=2, max_length=2)]]


class CandidatePublic(BaseModel):
    """A golden record the record may belong to, with the evidence of its best pair and
    the decision for it: ``link`` (the record joins it), ``review`` (a review task
    between them) or ``no_link``."""

    golden_id: str
    source: str
    record_id: str
    match_probability: float
    match_weight: float
    decision: Literal["link", "review", "no_link"]
    comparisons: list[ComparisonPublic]


class MatchPublic(BaseModel):
    """The candidates of a record, best first, and what an upsert of it would decide now
    under the service's thresholds: ``link`` to ``golden_id``, ``review`` against the
    golden records in ``review_golden_ids``, or ``new`` (a new person)."""

    #: The record as standardised, in the customer schema (values left out are absent).
    record: dict[str, Any]
    decision: Literal["link", "review", "new"]
    #: The golden record the record would join (``link`` only).
    golden_id: str | None
    #: The golden records a review task would be opened against.
    review_golden_ids: list[str]
    candidates: list[CandidatePublic]
    link_threshold: float
    review_threshold: float
    warnings: list[ValueWarningPublic]
    #: With ``?debug=true`` only: the derived columns matching uses (blocking keys,
    #: phonetic codes, name variant keys), as the engine holds them.
    debug: dict[str, Any] | None = None


class UpsertPublic(BaseModel):
    """What happened to one record."""

    action: Literal["created", "linked", "review", "updated", "unchanged"]
    source: str
    record_id: str
    golden_id: str
    version: int
    merged: list[str]
    review_tasks: list[int]
    evidence: list[CandidatePublic]
    warnings: list[ValueWarningPublic]


class BatchPublic(BaseModel):
    results: list[UpsertPublic]


class RecordPublic(BaseModel):
    source: str
    record_id: str
    golden_id: str | None
    version: int
    ingested_at: Timestamp | None
    values: dict[str, Any]
    extra: dict[str, Any]
    raw: dict[str, Any]


class OverrideSet(Request):
    """A steward's value for one attribute of a golden record: it wins over
    survivorship until cleared."""

    value: Annotated[str, Field(min_length=1, max_length=500)]
    by: Actor = "steward"
    reason: Annotated[str | None, Field(default=None, max_length=500)] = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"value": "bob.smyth@example.org", "by": "ann", "reason": "confirmed by phone"}
            ]
        }
    }


class DeletePublic(BaseModel):
    source: str
    record_id: str
    golden_id: str
    golden_records: list[str]
    retired: list[str]


class LineagePublic(BaseModel):
    attribute: str
    value: str | None
    source: str
    record_id: str
    rule: str


class ConstraintPublic(BaseModel):
    """A steward's must-link or cannot-link between two source records."""

    kind: str
    origin: str
    left: str
    right: str
    set_by: str
    set_at: Timestamp
    reason: str | None


class GoldenPublic(BaseModel):
    """A golden record, its source records and where each value came from."""

    golden_id: str
    requested_id: str
    status: str
    created_at: Timestamp
    updated_at: Timestamp
    record_count: int
    #: The matching form of each value ("evelyn", "25 manor rd"): what the engine compares.
    values: dict[str, Any]
    #: Names and address as a person reads them ("Evelyn", "25 Manor Road"): as the
    #: source record behind each value typed it, in proper case where it was typed in
    #: one case only.
    display: dict[str, str] = {}
    records: list[dict[str, str]]
    lineage: list[LineagePublic]
    #: The steward's constraints on its records (what keeps a merge or an unmerge).
    constraints: list[ConstraintPublic] = []

    @field_validator("values")
    @classmethod
    def _drop_missing(cls, values: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v is not None}
