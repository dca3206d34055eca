"""Name variants in the store: seeded, proposed, approved, rejected, logged."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from mdm.cli import app
from mdm.errors import VariantError
from mdm.store import attach_store
from mdm.store.names import active_pairs, decide, learn_from_links, list_variants, propose

runner = CliRunner()


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect()
    attach_store(connection, tmp_path / "s.duckdb")
    connection.execute("USE store")
    yield connection
    connection.close()


def test_store_is_seeded_from_reference_names(con) -> None:
    pairs = set(active_pairs(con))
    assert ("robert", "bob") in pairs
    assert len(pairs) > 2000
    assert set(list_variants(con, limit=5)["origin"]) == {"seed"}


def test_propose_then_approve(con) -> None:
    assert "proposed" in propose(con, "Maximilian", "Maxi", "nickname", "ann")
    assert ("maximilian", "maxi") not in active_pairs(con)
    assert "now active" in decide(con, "maxi", "maximilian", approve=True, actor="ann")
    assert ("maximilian", "maxi") in active_pairs(con)  # either order names the pair
    log = con.execute("SELECT action, actor FROM name_variant_events ORDER BY event_id").fetchall()
    assert log == [("proposed", "ann"), ("approved", "ann")]


def test_reject_stops_use_and_reproposal(con) -> None:
    decide(con, "robert", "bob", approve=False, actor="ann")
    assert ("robert", "bob") not in active_pairs(con)
    with pytest.raises(VariantError, match="rejected; a rejected pair is not proposed again"):
        propose(con, "Bob", "Robert", "nickname", "bot")


@pytest.mark.parametrize(
    ("name", "variant", "message"),
    [
        ("  ", "bob", "no letters"),
        ("José", "jose", "same name once folded"),
        ("Bob", "BOB", "same name once folded"),
        ("123", "bob", "no letters"),
    ],
    ids=["blank", "accent-only", "case-only", "no-latin-letters"],
)
def test_bad_pairs(con, name: str, variant: str, message: str) -> None:
    with pytest.raises(VariantError, match=message):
        propose(con, name, variant, "nickname", "ann")


def test_cycle_is_the_same_pair(con) -> None:
    propose(con, "Alexandra", "Sasha", "transliteration", "ann")
    assert "already proposed" in propose(con, "Sasha", "Alexandra", "nickname", "ann")
    assert len(list_variants(con, text="sasha", status="proposed")) == 1


def test_unknown_kind_and_status(con) -> None:
    with pytest.raises(VariantError, match="kind must be one of"):
        propose(con, "Ann", "Annie", "pet-name", "ann")
    with pytest.raises(VariantError, match="status must be one of"):
        list_variants(con, status="maybe")


def test_cli_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    missing = runner.invoke(app, ["names", "list", "--db", str(db)])
    assert missing.exit_code == 2 and "no store" in missing.output
    proposed = runner.invoke(app, ["names", "propose", "Quillon", "Quillie", "--db", str(db)])
    assert proposed.exit_code == 0, proposed.output
    approved = runner.invoke(app, ["names", "approve", "quillon", "quillie", "--db", str(db)])
    assert "now active" in approved.output
    out = tmp_path / "names.csv"
    exported = runner.invoke(app, ["names", "export", "--db", str(db), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    frame = pd.read_csv(out, keep_default_na=False)
    row = frame[(frame["name"] == "quillon") & (frame["variant"] == "quillie")]
    assert row["status"].tolist() == ["active"] and row["origin"].tolist() == ["steward"]
    bad = runner.invoke(app, ["names", "propose", "Ann", "ann", "--db", str(db)])
    assert bad.exit_code == 2 and "same name" in bad.output


@pytest.mark.parametrize("approved", [True, False], ids=["approved", "not-approved"])
def test_reconcile_uses_the_stores_variants(
    tmp_path: Path, sample_dir: Path, approved: bool
) -> None:
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str, keep_default_na=False)
    extra = crm.iloc[:2].copy()
    extra["customer_no"] = ["Q1", "Q2"]
    extra["fname"] = ["Quillon", "Quillie"]
    path = tmp_path / "crm.csv"
    pd.concat([crm, extra]).to_csv(path, index=False)
    db = tmp_path / "v.duckdb"
    if approved:
        runner.invoke(app, ["names", "approve", "quillon", "quillie", "--db", str(db)])
    result = runner.invoke(app, ["reconcile", str(path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as store:
        keys = store.execute(
            "SELECT first_name_variants FROM records WHERE record_id = 'Q2'"
        ).fetchall()[0][0]
        frequencies = store.execute(
            "SELECT count FROM name_frequencies WHERE kind = 'first' AND name = 'quillie'"
        ).fetchall()
    assert ("quillon" in keys) is approved
    assert frequencies == [(1,)]


def _links(rows: list[tuple[str, str, str]]) -> str:
    """A pairs query as the writer builds it: (first_l, first_r, golden_id) per link."""
    values = ", ".join(
        f"('{a}', '{b}', NULL, NULL, 'smith', 'smith', ['{a}'], ['{b}'], '{g}')" for a, b, g in rows
    )
    return (
        "SELECT * FROM (VALUES " + values + ") AS t(first_l, first_r, middle_l, middle_r, "
        "last_l, last_r, variants_l, variants_r, golden_id)"
    )


def test_learning_activates_after_enough_people(con) -> None:
    links = _links([("kasimir", "kazik", "G1"), ("kazik", "kasimir", "G2")])
    assert learn_from_links(con, links, 1, confirmations=3, max_similarity=0.9) == {
        "confirmed": 1, "active": 0,
    }  # fmt: skip
    # The same people again (a re-run) is no new evidence.
    learn_from_links(con, links, 2, confirmations=3, max_similarity=0.9)
    row = list_variants(con, text="kazik")
    assert row[["evidence", "status", "origin"]].values.tolist() == [[2, "proposed", "learned"]]
    third = _links([("kasimir", "kazik", "G3")])
    assert learn_from_links(con, third, 3, confirmations=3, max_similarity=0.9)["active"] == 1
    assert ("kasimir", "kazik") in active_pairs(con)


def test_learning_ignores_typos_and_rejected_pairs(con) -> None:
    decide(con, "kasimir", "kazik", approve=False, actor="ann")
    links = _links(
        [("kasimir", "kazik", f"G{i}") for i in range(5)]
        + [("jonathan", "jonathna", "G9"), ("jay", "ajy", "G8")]
        + [("malcolm", "catherine", f"G{i}") for i in range(10, 15)]  # not one name
    )
    assert learn_from_links(con, links, 1, confirmations=1, max_similarity=0.9)["confirmed"] == 0
    assert list_variants(con, text="kazik")["status"].tolist() == ["rejected"]
