"""Training sessions: a narrower session's estimate replaces a broader one's."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb


def _model(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return json.loads(con.execute("SELECT model FROM models").fetchall()[0][0])


def _m(model: dict, comparison: str, label: str) -> float:
    for c in model["splink_settings"]["comparisons"]:
        if c["output_column_name"] == comparison:
            return next(
                level["m_probability"]
                for level in c["comparison_levels"]
                if level.get("label_for_charts") == label
            )
    raise KeyError(comparison)


def test_birth_dates_are_learned_from_pairs_sharing_name_and_email(reconciled_db: Path) -> None:
    """Same name + email pairs are one person; same name alone includes a father and
    son at one address. The birth date's m comes from the narrower session, the
    model says so, and a different birth date is rare among one person's records."""
    model = _model(reconciled_db)
    sessions = [s["keys"] for s in model["training"]["em_sessions"]]
    assert ["first_name", "last_name", "email"] in sessions
    superseded = model["training"]["em_superseded"]
    assert superseded["date_of_birth"] == [["first_name", "last_name"]]
    assert "first_name" not in superseded  # estimated in one session only
    assert _m(model, "date_of_birth", "different") < 0.05  # identity_veto_max_share
