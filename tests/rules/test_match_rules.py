"""Loading and validating match, survivorship and source-mapping rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdm.bundled import DEFAULT_MATCH_RULES, DEFAULT_SURVIVORSHIP_RULES
from mdm.errors import RulesError
from mdm.rules.match import fit_rules_to_data, load_match_rules
from mdm.rules.sources import load_source_mapping
from mdm.rules.survivorship import load_survivorship_rules

REPO = Path(__file__).resolve().parents[2]
DEFAULT = (DEFAULT_MATCH_RULES).read_text()


def test_default_rules_load() -> None:
    rules = load_match_rules(DEFAULT_MATCH_RULES)
    assert {c.kind for c in rules.comparisons} >= {"name", "date", "email", "phone", "location"}
    assert rules.thresholds.link == "auto"


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    changed = tmp_path / "r.match.yaml"
    changed.write_text(DEFAULT.replace("u_max_pairs: 1000000", "u_max_pairs: 2000000"))
    original = load_match_rules(DEFAULT_MATCH_RULES)
    assert load_match_rules(changed).fingerprint() != original.fingerprint()


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("kind: phone", "kind: phonee", "phonee"),
        ("  - kind: email", "  - kind: email\n    colum: email", "did you mean 'column'"),
        ("keys: [email]\n  - keys: [phone]", "keys: [emial]\n  - keys: [phone]", "emial"),
        ("link: auto", "link: 1.5", "link"),
        ("prior_recall: 0.7", "prior_recall: lots", "prior_recall"),
    ],
    ids=["unknown-kind", "typo-key", "unknown-blocking-column", "threshold-range", "wrong-type"],
)
def test_errors_point_at_the_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in DEFAULT
    text = DEFAULT.replace(old, new, 1)
    path = tmp_path / "bad.match.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as caught:
        load_match_rules(path)
    message = str(caught.value)
    assert expected in message
    assert f"{path}:" in message
    line = int(message.split(f"{path}:")[1].split(":")[0])
    # The reported line is within the block that was changed.
    changed = _line_of(text, new.splitlines()[-1].strip())
    assert abs(line - changed) <= 3, message


def test_any_order_needs_two_keys(tmp_path: Path) -> None:
    path = tmp_path / "bad.match.yaml"
    old = "  - keys: [first_name_phonetic, last_name_phonetic]\n    any_order: true"
    assert old in DEFAULT
    path.write_text(
        DEFAULT.replace(
            old, old.replace("[first_name_phonetic, ", "[first_initial, first_name_phonetic, ")
        )
    )
    with pytest.raises(RulesError, match="any_order needs exactly two keys"):
        load_match_rules(path)


def test_unknown_kind_lists_allowed_kinds(tmp_path: Path) -> None:
    path = tmp_path / "bad.match.yaml"
    path.write_text(DEFAULT.replace("kind: phone", "kind: fone"))
    with pytest.raises(RulesError, match="'name', 'date', 'email', 'phone'"):
        load_match_rules(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "empty"), ("version: [1\n", "not valid YAML"), ("- a\n- b\n", "MatchRules")],
    ids=["empty", "broken-yaml", "not-a-mapping"],
)
def test_malformed_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "x.match.yaml"
    path.write_text(text)
    with pytest.raises(RulesError, match=expected):
        load_match_rules(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="does not exist"):
        load_match_rules(tmp_path / "nope.yaml")


def test_survivorship_needs_sources_for_priority(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("attributes:\n  email:\n    strategy: source_priority\n")
    with pytest.raises(RulesError, match="ranked list of source names"):
        load_survivorship_rules(path)


def test_survivorship_default_file_loads() -> None:
    rules = load_survivorship_rules(DEFAULT_SURVIVORSHIP_RULES)
    assert rules.groups["address"].columns[0] == "address_line"
    assert rules.rule_for("gender").strategy == "most_frequent"


def test_mapping_rejects_unknown_attribute(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text("columns:\n  record_id: id\n  surnam: last\n")
    with pytest.raises(RulesError, match=r"crm.yaml:3.*unknown schema attribute.*surnam"):
        load_source_mapping(path)


def test_rules_fit_the_columns_the_data_has() -> None:
    rules = load_match_rules(DEFAULT_MATCH_RULES)
    present = {"first_name", "last_name", "date_of_birth", "first_name_phonetic",
               "last_name_phonetic", "first_initial", "dob_year", "city"}  # fmt: skip
    fitted = fit_rules_to_data(rules, present)
    kinds = {c.kind for c in fitted.comparisons}
    assert "phone" not in kinds and "email" not in kinds
    assert all(set(r.keys) <= present for r in fitted.blocking)
    assert fitted.fingerprint() != rules.fingerprint()


def test_rules_refuse_data_they_cannot_use() -> None:
    rules = load_match_rules(DEFAULT_MATCH_RULES)
    with pytest.raises(RulesError, match="fill none of the columns"):
        fit_rules_to_data(rules, {"gender"})


def test_data_no_prior_rule_can_use_still_trains() -> None:
    """Names and addresses only: no exact-agreement rule for the prior applies, and the
    prior is estimated over the scored pairs instead (EM starts from 1/records)."""
    rules = load_match_rules(DEFAULT_MATCH_RULES)
    present = {"first_name", "last_name", "first_name_phonetic", "last_name_phonetic",
               "first_initial", "address_line", "city", "postcode",
               "postcode_district"}  # fmt: skip
    fitted = fit_rules_to_data(rules, present)
    assert fitted.training.prior_rules == []
    assert fitted.training.em_blocking and fitted.blocking
