"""Survivorship rules (customer.survivorship.yaml): which value a golden record keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mdm.rules.yamlfile import load_model

Strategy = Literal["most_recent", "most_frequent", "source_priority", "most_complete"]


class AttributeRule(BaseModel):
    """How one attribute (or a group of attributes kept together) survives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy
    sources: list[str] = []


class GroupRule(AttributeRule):
    """Attributes that survive together, from one record (an address, say)."""

    columns: list[str] = Field(min_length=2)


class SurvivorshipRules(BaseModel):
    """The whole of a ``*.survivorship.yaml`` file.

    Ties are broken by ``source_priority`` (when given), then the most recent record,
    then the smallest (source, record_id), so the result never depends on input order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    default: AttributeRule = AttributeRule(strategy="most_frequent")
    source_priority: list[str] = []
    attributes: dict[str, AttributeRule] = {}
    groups: dict[str, GroupRule] = {}

    @model_validator(mode="after")
    def _no_overlap(self) -> SurvivorshipRules:
        grouped = [c for g in self.groups.values() for c in g.columns]
        twice = sorted(
            {c for c in grouped if grouped.count(c) > 1} | (set(grouped) & set(self.attributes))
        )
        if twice:
            raise ValueError(f"attribute(s) {twice} have more than one survivorship rule")
        rules = [*self.attributes.values(), *self.groups.values(), self.default]
        if not self.source_priority and any(
            r.strategy == "source_priority" and not r.sources for r in rules
        ):
            raise ValueError(
                "source_priority needs a ranked list of source names: give 'sources' on the "
                "rule or a top-level 'source_priority'"
            )
        return self

    def rule_for(self, attribute: str) -> AttributeRule:
        """The rule that decides ``attribute`` when it is not part of a group."""
        return self.attributes.get(attribute, self.default)


def load_survivorship_rules(path: Path) -> SurvivorshipRules:
    """Load and validate a survivorship rules file."""
    return load_model(path, SurvivorshipRules)
