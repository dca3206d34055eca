"""The decision rule shared by match and upsert, and what blocking can use."""

from __future__ import annotations

import pytest

from mdm.realtime.decision import Thresholds, decide
from mdm.realtime.usable import attribute_of, what_blocking_uses
from mdm.rules.match import BlockingRule

T = Thresholds(link=0.9, review=0.1)


@pytest.mark.parametrize(
    ("probability", "band"),
    [(0.95, "link"), (0.9, "link"), (0.5, "review"), (0.1, "review"), (0.05, "none")],
    ids=["above-link", "at-link", "in-band", "at-review", "below"],
)
def test_a_pair_falls_in_one_band(probability: float, band: str) -> None:
    assert T.band(probability) == band


# id, golden id the record is put in, scored (before, after, p), review ids, outcome,
# per candidate
CASES = [
    ("link", "G1", [("G1", "G1", 0.95), ("G2", None, 0.5)], ["G2"], "link",
     {"G1": "link", "G2": "review", "G3": "no_link"}),
    ("guard-kept-apart", "GNEW", [("G1", "G1", 0.95)], [], "new", {"G1": "no_link"}),
    ("review", "GNEW", [("G1", None, 0.5)], ["G1"], "review", {"G1": "review"}),
    ("new", "GNEW", [("G1", None, 0.01)], [], "new", {"G1": "no_link"}),
    ("clustered-without-a-link", "G1", [("G1", "G1", 0.5)], [], "new", {"G1": "no_link"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("golden_id", "scored", "review", "outcome", "candidates"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_the_decision(golden_id, scored, review, outcome, candidates) -> None:
    decision = decide(golden_id, scored, review, T)
    assert decision.outcome == outcome
    assert decision.golden_id == golden_id
    assert {g: decision.of_candidate(g) for g in candidates} == candidates


@pytest.mark.parametrize(
    ("key", "attribute"),
    [("last_name_phonetic", "last_name"), ("first_name_variants", "first_name"),
     ("dob_year", "date_of_birth"), ("email_local", "email"), ("postcode", "postcode"),
     ("loyalty_no", "loyalty_no")],
    ids=["phonetic", "variants", "derived", "email-local", "attribute", "extra"],
)  # fmt: skip
def test_a_blocking_key_names_its_attribute(key: str, attribute: str) -> None:
    assert attribute_of(key) == attribute


def test_what_blocking_uses_is_the_smallest_sets() -> None:
    rules = [BlockingRule(keys=k) for k in (
        ["last_name_phonetic", "dob_year", "first_initial"], ["email"], ["last_name"],
        ["first_name", "postcode"], ["email_local"], ["postcode", "dob_year"])]  # fmt: skip
    assert what_blocking_uses(rules) == [
        "last_name",
        "email",
        "first_name with postcode",
        "date_of_birth with postcode",
    ]
