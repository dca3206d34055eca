"""The rules a run uses: match rules, survivorship rules and where source mappings are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mdm.bundled import DEFAULT_SURVIVORSHIP_RULES
from mdm.rules.match import MatchRules, load_match_rules
from mdm.rules.survivorship import SurvivorshipRules, load_survivorship_rules


@dataclass(frozen=True)
class RulesBundle:
    """The rules a run uses, loaded and validated."""

    match: MatchRules
    survivorship: SurvivorshipRules
    rules_dir: Path

    @classmethod
    def load(
        cls,
        match_path: Path,
        survivorship_path: Path | None = None,
        mappings_dir: Path | None = None,
    ) -> RulesBundle:
        """Load the match rules and the survivorship rules beside them.

        Source mappings are read from ``<mappings_dir>/sources/``; by default the folder
        of the match rules.
        """
        match = load_match_rules(match_path)
        if survivorship_path is None:
            stem = match_path.name.removesuffix(".match.yaml")
            candidate = match_path.with_name(f"{stem}.survivorship.yaml")
            default = DEFAULT_SURVIVORSHIP_RULES
            survivorship_path = candidate if candidate.is_file() else default
        survivorship = load_survivorship_rules(survivorship_path)
        return cls(match, survivorship, mappings_dir or match_path.parent)
