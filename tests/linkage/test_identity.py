"""The identity guard: records that disagree on who they are stay apart."""

from __future__ import annotations

import pandas as pd
import pytest

from mdm.bulk.link import identity_conflicts
from mdm.linkage.model import TrainedModel
from mdm.rules.match import MatchRules

REPO_RULES = {
    "blocking": [{"keys": ["first_name"]}],
    "comparisons": [
        {"kind": "name", "column": "first_name"},
        {"kind": "date", "column": "date_of_birth"},
    ],
    "training": {"em_blocking": [{"keys": ["first_name"]}], "prior_rules": [{"keys": ["email"]}]},
}


def _model(first_different_m: float) -> TrainedModel:
    def comparison(name: str, different_m: float) -> dict:
        return {
            "output_column_name": name,
            "comparison_levels": [
                {"sql_condition": "null", "is_null_level": True},
                {"sql_condition": "same", "m_probability": 1 - different_m, "u_probability": 0.01},
                {"sql_condition": "ELSE", "m_probability": different_m, "u_probability": 0.99},
            ],
        }

    settings = {
        "comparisons": [
            comparison("first_name", first_different_m),
            comparison("date_of_birth", 0.01),
        ]
    }
    return TrainedModel("m", "f", "now", settings, {}, {})


# gamma: -1 missing, 1 same, 0 different
PAIRS = pd.DataFrame(
    {
        "uid_l": [0, 1, 2, 3, 4],
        "uid_r": [10, 11, 12, 13, 14],
        "gamma_first_name": [0, 0, 1, 0, -1],
        "gamma_date_of_birth": [0, -1, 0, 1, -1],
    }
)


@pytest.mark.parametrize(
    ("first_different_m", "cannot", "veto"),
    [
        (0.02, [True, False, False, False, False], [False, True, False, False, False]),
        (0.3, [True, False, False, False, False], [False, False, False, False, False]),
        (0.9, [True, False, False, False, False], [False, False, False, False, False]),
    ],
    ids=["reliable-first-names", "unreliable-first-names", "dob-alone-decides"],
)
def test_tiers(first_different_m: float, cannot: list[bool], veto: list[bool]) -> None:
    rules = MatchRules.model_validate(REPO_RULES)
    found_cannot, found_veto = identity_conflicts(PAIRS, _model(first_different_m), rules)
    assert found_cannot.tolist() == cannot
    assert found_veto.tolist() == veto
