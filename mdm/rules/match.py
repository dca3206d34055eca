"""The match rules: blocking, comparisons, thresholds and training (customer.match.yaml).

Rules are declarative. Each comparison names a *kind* known to
:mod:`mdm.linkage.comparisons`, which compiles it to SQL with a human label per level;
nothing in a rules file is executed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mdm.errors import RulesError
from mdm.rules.yamlfile import load_model
from mdm.schema import ATTRIBUTES

#: Key columns derived from the schema at ingest, usable in blocking rules.
DERIVED_KEYS = (
    "first_name_phonetic",
    "last_name_phonetic",
    "middle_name_phonetic",
    "first_initial",
    "dob_year",
    "dob_month_day",
    "postcode_district",
    "email_local",
    "phone_last7",
)

#: Columns that carry name-variant keys (the reference list is of given names).
VARIANT_COLUMNS = ("first_name", "middle_name")

SCHEMA_KEYS = ATTRIBUTES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NameComparison(_Strict):
    """A person-name attribute: exact, known variant, phonetic, Jaro-Winkler levels."""

    kind: Literal["name"]
    column: str
    label: str | None = None
    term_frequency: bool = True
    variants: bool = True
    phonetic: bool = True
    jaro_winkler: list[Annotated[float, Field(gt=0, lt=1)]] = [0.92, 0.8]
    initials: bool = False
    swapped_with: str | None = None
    #: With ``swapped_with``: also a level for names swapped *and* mistyped, both
    #: crossed pairs at least this Jaro-Winkler-similar (null: exact swaps only).
    swapped_jaro_winkler: Annotated[float, Field(gt=0, lt=1)] | None = 0.9
    also_match: list[str] = []
    #: A record whose only name is the other record's ``misplaced`` name typed in this
    #: field ("Leeds" as the first name, no last name, against "George Leeds"): a level
    #: of its own, weighing at most what exact agreement weighs.
    misplaced: str | None = None

    @model_validator(mode="after")
    def _variants_for_given_names(self) -> NameComparison:
        if self.variants and self.column not in VARIANT_COLUMNS:
            raise ValueError(
                f"'variants: true' needs a given-name column ({', '.join(VARIANT_COLUMNS)}); "
                f"set 'variants: false' for '{self.column}'"
            )
        return self


class DateComparison(_Strict):
    """A date: exact, a typo or swapped day and month, same year and month, near years."""

    kind: Literal["date"]
    column: str = "date_of_birth"
    label: str | None = None
    term_frequency: bool = True
    typo: bool = True
    within_years: list[Annotated[int, Field(ge=1, le=100)]] = [1]


class EmailComparison(_Strict):
    """An email address: exact (distinctive or only the name), same local part, fuzzy."""

    kind: Literal["email"]
    column: str = "email"
    label: str | None = None
    name_like_level: bool = True
    jaro_winkler: list[Annotated[float, Field(gt=0, lt=1)]] = [0.88]


class PhoneComparison(_Strict):
    """A phone number in E.164: exact, same last seven digits, different."""

    kind: Literal["phone"]
    column: str = "phone"
    label: str | None = None
    last_digits: bool = True


class LocationComparison(_Strict):
    """Where someone lives, counted once: address + postcode > postcode > city."""

    kind: Literal["location"]
    address: str | None = "address_line"
    postcode: str | None = "postcode"
    city: str | None = "city"
    label: str | None = None
    address_jaro_winkler: Annotated[float, Field(gt=0, lt=1)] = 0.9
    term_frequency: bool = True


class ExactComparison(_Strict):
    """Any attribute, compared for equality (optionally term-frequency adjusted)."""

    kind: Literal["exact"]
    column: str
    label: str | None = None
    term_frequency: bool = False


class StringComparison(_Strict):
    """Any text attribute: exact, then Jaro-Winkler levels."""

    kind: Literal["string"]
    column: str
    label: str | None = None
    term_frequency: bool = False
    jaro_winkler: list[Annotated[float, Field(gt=0, lt=1)]] = [0.9]


class IdentifierComparison(_Strict):
    """A number that names one person (a social security, national insurance or tax
    number): exact, then within ``max_edits`` typing slips (a character mistyped, left
    out or added, or two neighbours swapped), else different. A different number is
    strong evidence against a match only when the model learns so from the data."""

    kind: Literal["identifier"]
    column: str = "national_id"
    label: str | None = None
    term_frequency: bool = False
    max_edits: list[Annotated[int, Field(ge=1, le=3)]] = [1]


Comparison = Annotated[
    NameComparison
    | DateComparison
    | EmailComparison
    | PhoneComparison
    | LocationComparison
    | ExactComparison
    | StringComparison
    | IdentifierComparison,
    Field(discriminator="kind"),
]

COMPARISON_KINDS = (
    "name", "date", "email", "phone", "location", "exact", "string", "identifier",
)  # fmt: skip


class BlockingRule(_Strict):
    """Candidate pairs share every key in ``keys`` (all non-missing).

    With ``max_block_size``, values shared by more records than that are skipped by
    this rule: a loose key (a surname alone) then pairs records on its rarer values
    only, and the number of pairs stays bounded however large the data grows.

    With ``any_order`` (two keys), the two values agree in either order: a first name
    typed in the surname field and the surname in the first name field still pair.
    """

    keys: list[str] = Field(min_length=1)
    name: str | None = None
    max_block_size: Annotated[int, Field(ge=2)] | None = None
    any_order: bool = False

    @model_validator(mode="after")
    def _two_keys_in_any_order(self) -> BlockingRule:
        if self.any_order and len(self.keys) != 2:
            raise ValueError(
                f"any_order needs exactly two keys (values that may be swapped); got {self.keys}"
            )
        return self

    @property
    def keyed(self) -> bool:
        """Whether pairs are found on a key column (``_block_<index>``, a hash of the
        keys) rather than on the keys themselves: a capped rule, or one whose keys may
        be swapped."""
        return self.max_block_size is not None or self.any_order


class Thresholds(_Strict):
    """Match probability at or above which pairs link, and the review band below it.

    ``link: auto`` picks the threshold that maximises the model's own expected
    pairwise F1 (no labels), within ``link_floor`` and ``link_ceiling``, then raises
    it while the links just above it chain clusters together: more than
    ``max_chain_ratio`` within-cluster pairs per link (see :mod:`mdm.threshold`;
    ``null`` skips that check). ``review`` is a probability below ``link`` (pairs
    between them become review tasks) or ``auto``: four match-weight units below the
    link threshold.
    """

    link: Literal["auto"] | Annotated[float, Field(gt=0, lt=1)] = "auto"
    review: Literal["auto"] | Annotated[float, Field(gt=0, lt=1)] = "auto"
    link_floor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    link_ceiling: Annotated[float, Field(gt=0, lt=1)] = 0.995
    max_chain_ratio: Annotated[float, Field(ge=1)] | None = 2.0
    #: The check also stops once the links just above the threshold put at most this
    #: many pairs the model scored as non-matches into one cluster, per link: a person
    #: with many records is joined by links that add many pairs, few of them
    #: contradicted; chained clusters add contradicted pairs (see :mod:`mdm.threshold`).
    max_contradicted_ratio: Annotated[float, Field(ge=0)] | None = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        both = isinstance(self.link, float) and isinstance(self.review, float)
        if both and self.review >= self.link:  # type: ignore[operator]
            raise ValueError(f"review ({self.review}) must be below link ({self.link})")
        if self.link_floor >= self.link_ceiling:
            raise ValueError("link_floor must be below link_ceiling")
        return self


class Training(_Strict):
    """How m and u are estimated without labels."""

    u_max_pairs: Annotated[int, Field(ge=10_000)] = 2_000_000
    em_blocking: list[BlockingRule] = Field(min_length=1)
    #: Sessions run only for the comparisons the ``em_blocking`` sessions left
    #: untrained (a source set without birth dates, where every other session blocks
    #: on the names), each the first whose keys the comparison does not read and the
    #: data fills; they change no other comparison's estimates.
    em_fallback: list[BlockingRule] = Field(default_factory=list)
    #: Deterministic rules whose exact agreement gives EM its starting prior; the prior
    #: itself is estimated over the scored pairs, so a source set that fills none of
    #: them still trains (EM then starts from one duplicate pair per two records).
    prior_rules: list[BlockingRule] = Field(default_factory=list)
    prior_recall: Annotated[float, Field(gt=0, le=1)] = 0.7
    max_training_records: Annotated[int, Field(ge=1000)] = 150_000
    seed: int = 42


class Clustering(_Strict):
    """Connected components at the link threshold, with guards against wrong merges.

    A cluster is split when two of its records were scored as a clear non-match
    (match probability below ``split_below``) although linked through others. Pairs
    no blocking rule compared are scored for this too, inside clusters of at most
    ``cohere_max_size`` records, and split on when they are also contradicted on
    identity: two "John Smith"s born 15 years apart, each linked to a record holding
    only "John Smith", end in two clusters; two records of one person that share too
    little to be compared stay together.

    Household members share a surname, an address, a landline and sometimes an email;
    counted as independent evidence these outvote a different first name and birth
    date. So two records that disagree on every ``identity`` comparison (each at a
    level with negative match weight) are never put in one cluster, provided the
    model itself estimates that at most ``identity_conflict_max_share`` of true
    matches disagree like that (the product of those levels' m probabilities): the
    guard then costs at most that share of recall. On data where identity values
    are often corrupted, the model says so and the guard stands down.

    When an identity value is missing (no birth date in a web-shop record), only the
    present comparisons are judged. If their share is at most
    ``identity_veto_max_share``, that pair alone does not link the two records
    (they may still join through others): a different first name with no birth
    date to vouch for the pair is how a spouse or a child looks.
    """

    split_below: Annotated[float, Field(ge=0, lt=1)] = 1e-5
    guard: bool = True
    #: Score every pair inside a cluster of up to this many records that no blocking
    #: rule compared, and split the cluster where two of its records are a clear
    #: non-match (below ``split_below``) on an identity comparison true matches seldom
    #: disagree on (a sparse record then joins one person and never bridges two). 0
    #: turns it off.
    cohere_max_size: Annotated[int, Field(ge=0)] = 200
    identity: list[str] = ["first_name", "date_of_birth"]
    identity_conflict_max_share: Annotated[float, Field(ge=0, le=1)] = 0.01
    identity_veto_max_share: Annotated[float, Field(ge=0, le=1)] = 0.05


class Learning(_Strict):
    """How name variants are learned from confident links.

    Two records linked at ``min_probability`` or more whose first names differ (and
    are not typos of each other, swapped, or a middle name) confirm that pair of
    names; after ``confirmations`` different people confirm it, the pair is active.
    """

    enabled: bool = True
    min_probability: Annotated[float, Field(gt=0.5, lt=1)] = 0.99
    confirmations: Annotated[int, Field(ge=1)] = 3
    max_similarity: Annotated[float, Field(gt=0, le=1)] = 0.9


class MatchRules(_Strict):
    """The whole of a ``*.match.yaml`` file."""

    version: Literal[1] = 1
    description: str | None = None
    blocking: list[BlockingRule] = Field(min_length=1)
    comparisons: list[Comparison] = Field(min_length=1)
    thresholds: Thresholds = Thresholds()
    training: Training
    clustering: Clustering = Clustering()
    learning: Learning = Learning()
    extra_columns: list[str] = []

    @field_validator("extra_columns")
    @classmethod
    def _no_schema_names(cls, value: list[str]) -> list[str]:
        clash = [name for name in value if name in SCHEMA_KEYS]
        if clash:
            raise ValueError(f"{clash} are schema attributes already; list only extra columns")
        return value

    @model_validator(mode="after")
    def _known_columns(self) -> MatchRules:
        allowed = set(SCHEMA_KEYS) | set(DERIVED_KEYS) | set(self.extra_columns)
        rules = [*self.blocking, *self.training.em_blocking, *self.training.prior_rules]
        for rule in rules:
            for key in rule.keys:
                if key not in allowed:
                    raise ValueError(_unknown_column(key, allowed, "blocking key"))
        for comparison in self.comparisons:
            for column in comparison_columns(comparison):
                if column not in allowed:
                    raise ValueError(_unknown_column(column, allowed, "comparison column"))
        names = [comparison_name(c) for c in self.comparisons]
        unknown = [n for n in self.clustering.identity if n not in names]
        if unknown:
            raise ValueError(
                f"clustering.identity names unknown comparison(s) {unknown}; "
                f"comparisons are: {', '.join(names)}"
            )
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"comparison names repeat: {repeated}; give each a distinct label")
        return self

    def fingerprint(self) -> str:
        """A hash of the rules' content: a trained model is tied to it."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def fit_rules_to_data(rules: MatchRules, present: set[str]) -> MatchRules:
    """The rules without the comparisons and blocking rules whose columns the data lacks.

    ``present`` names the columns holding at least one value. A source set with no
    phone numbers then trains and scores no phone comparison, instead of carrying
    untrained parameters.
    """

    def usable(rule: BlockingRule) -> bool:
        return all(key in present for key in rule.keys)

    comparisons = [
        c for c in rules.comparisons if any(col in present for col in comparison_columns(c))
    ]
    training = rules.training.model_copy(
        update={
            "em_blocking": [r for r in rules.training.em_blocking if usable(r)],
            "prior_rules": [r for r in rules.training.prior_rules if usable(r)],
        }
    )
    kept = {comparison_name(c) for c in comparisons}
    clustering = rules.clustering.model_copy(
        update={"identity": [n for n in rules.clustering.identity if n in kept]}
    )
    fitted = rules.model_copy(
        update={
            "blocking": [r for r in rules.blocking if usable(r)],
            "comparisons": comparisons,
            "training": training,
            "clustering": clustering,
        }
    )
    missing = [
        what
        for what, items in (
            ("blocking", fitted.blocking),
            ("comparisons", fitted.comparisons),
            ("training.em_blocking", training.em_blocking),
        )
        if not items
    ]
    if missing:
        raise RulesError(
            f"the sources fill none of the columns used by {', '.join(missing)}; "
            f"columns with values: {', '.join(sorted(present))}"
        )
    return fitted


def _unknown_column(name: str, allowed: set[str], what: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (
        f"unknown {what} '{name}'{hint}; use a schema attribute, a derived key "
        f"({', '.join(DERIVED_KEYS)}) or a column listed in extra_columns"
    )


def comparison_columns(comparison: Comparison) -> list[str]:
    """Every input column a comparison reads."""
    if isinstance(comparison, LocationComparison):
        return [c for c in (comparison.address, comparison.postcode, comparison.city) if c]
    columns = [comparison.column]
    if isinstance(comparison, NameComparison):
        columns += [c for c in (comparison.swapped_with,) if c] + list(comparison.also_match)
        columns += [c for c in (comparison.misplaced,) if c and c not in columns]
    return columns


def comparison_name(comparison: Comparison) -> str:
    """The output name of a comparison: its label, or its (first) column."""
    if comparison.label:
        return comparison.label
    if isinstance(comparison, LocationComparison):
        return "location"
    return comparison.column


def load_match_rules(path: Path) -> MatchRules:
    """Load and validate a match rules file; :class:`RulesError` points at the line."""
    return load_model(path, MatchRules)
