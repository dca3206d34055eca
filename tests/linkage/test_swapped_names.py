"""Names found in each other's fields (swapped, or one name typed in the other's
field) weigh no more than the names agreeing in place.

Random pairs almost never hold two names crossed, so EM's u for the swapped levels is
tiny; left alone, two different people of one name, one record typed swapped, would
outweigh their different birth dates and identifiers (it merged four people in FEBRL4
once the name rule paired swapped names).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from mdm.linkage.model import swaps_weigh_no_more_than_agreement

PROBABILITY = st.floats(min_value=1e-9, max_value=1.0, allow_nan=False)


def _weight(level: dict) -> float:
    return math.log2(level["m_probability"] / level["u_probability"])


def _settings(levels: list[tuple[str, float, float]]) -> dict:
    return {
        "comparisons": [
            {
                "output_column_name": "first_name",
                "comparison_levels": [
                    {"label_for_charts": "missing", "is_null_level": True},
                    *(
                        {"label_for_charts": label, "m_probability": m, "u_probability": u}
                        for label, m, u in levels
                    ),
                ],
            }
        ]
    }


@given(
    exact=st.tuples(PROBABILITY, PROBABILITY),
    swapped=st.tuples(PROBABILITY, PROBABILITY),
    typo=st.tuples(PROBABILITY, PROBABILITY),
    similar=st.tuples(PROBABILITY, PROBABILITY),
    crossed=st.sampled_from(
        ["swapped with last_name, with a typo", "the other's last_name, alone in this field"]
    ),
)
def test_no_swapped_level_outweighs_exact_agreement(exact, swapped, typo, similar, crossed) -> None:
    before = _settings(
        [
            ("exact", *exact),
            ("swapped with last_name", *swapped),
            (crossed, *typo),
            ("similar (Jaro-Winkler >= 0.92)", *similar),
        ]
    )
    after = swaps_weigh_no_more_than_agreement(before)
    old = before["comparisons"][0]["comparison_levels"]
    new = after["comparisons"][0]["comparison_levels"]
    bound = _weight(new[1])
    for was, now in zip(old[2:4], new[2:4], strict=True):
        assert _weight(now) <= bound + 1e-9
        assert now["m_probability"] == was["m_probability"]  # only u moves
        assert _weight(now) == min(_weight(was), bound) or math.isclose(
            _weight(now), min(_weight(was), bound), abs_tol=1e-9
        )
    assert new[1] == old[1] and new[4] == old[4] and new[0] == old[0]


def test_the_trained_model_keeps_swaps_below_agreement(reconciled_db: Path) -> None:
    with duckdb.connect(str(reconciled_db), read_only=True) as con:
        model = json.loads(con.execute("SELECT model FROM models").fetchall()[0][0])
    checked = 0
    for comparison in model["splink_settings"]["comparisons"]:
        levels = {lv.get("label_for_charts"): lv for lv in comparison["comparison_levels"]}
        for label, level in levels.items():
            crossed = label and label.startswith(("swapped with ", "the other's "))
            if crossed and level.get("u_probability"):
                assert _weight(level) <= _weight(levels["exact"]) + 1e-6, label
                checked += 1
    # first and last name, each swapped exactly and with a typo (the generator types no
    # name alone in the other's field: that level stays untrained, and never fires)
    assert checked >= 4
