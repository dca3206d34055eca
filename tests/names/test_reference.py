"""The seed reference-name files and their loader (mdm.names.reference)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.errors import InputError
from mdm.names.reference import (
    are_known_variants,
    build_variant_groups,
    load_name_frequencies,
    load_name_variants,
    normalise_name,
    reference_dir,
    variant_keys,
)

NAME = re.compile(r"[a-z]+")
MB = 1024 * 1024


@functools.cache
def seed_groups() -> dict[str, tuple[str, ...]]:
    df = load_name_variants()
    return build_variant_groups(zip(df["name"], df["variant"], strict=True))


# ------------------------------------------------------------------------ the files


def test_reference_dir_is_the_packaged_folder():
    assert reference_dir() == Path(__file__).resolve().parents[2] / "mdm/data/reference_names"
    assert (reference_dir() / "LICENSES" / "Apache-2.0.txt").is_file()


def test_name_variants_file():
    df = load_name_variants()
    assert list(df.columns) == ["name", "variant", "kind", "origin"]
    assert len(df) > 2500
    assert not df.duplicated().any()
    pairs = [frozenset(p) for p in zip(df["name"], df["variant"], strict=True)]
    assert len(set(pairs)) == len(pairs), "each unordered pair occurs once"
    assert (df["name"] != df["variant"]).all()
    assert set(df["kind"]) == {"nickname", "spelling", "transliteration"}
    assert set(df["origin"]) == {"nicknames", "mdm-curated"}
    for col in ("name", "variant"):
        assert df[col].map(NAME.fullmatch).notna().all(), f"{col} must be lowercase ASCII"
    assert df.equals(df.sort_values(["name", "variant"]).reset_index(drop=True))
    # curated spelling pairs are written with the alphabetically first name as `name`
    curated = df[df["origin"] == "mdm-curated"]
    assert (curated["name"] < curated["variant"]).all()


@pytest.mark.parametrize(
    ("kind", "columns", "floor"),
    [
        ("first", ["name", "count", "gender_share_f"], 50_000),
        ("last", ["name", "count"], 80_000),
    ],
)
def test_frequency_files(kind, columns, floor):
    df = load_name_frequencies(kind)
    assert list(df.columns) == columns
    assert len(df) > floor
    assert df["name"].is_unique
    assert df["name"].map(NAME.fullmatch).notna().all()
    assert df["name"].is_monotonic_increasing
    assert df["count"].dtype == "int64"
    assert (df["count"] > 0).all()
    if kind == "first":
        assert df["gender_share_f"].between(0, 1).all()


def test_frequencies_look_right():
    first = load_name_frequencies("first").set_index("name")
    last = load_name_frequencies("last").set_index("name")
    assert first.loc["mary", "gender_share_f"] > 0.99
    assert first.loc["james", "gender_share_f"] < 0.01
    assert first.loc["james", "count"] > first.loc["zebulon", "count"]
    assert last.loc["smith", "count"] == last["count"].max()
    # names that a CSV reader would take for missing values stay names
    assert "nan" in first.index
    assert "null" in last.index


def test_files_stay_small():
    folder = reference_dir()
    for name in ("name_variants.csv", "first_names.csv", "last_names.csv"):
        assert (folder / name).stat().st_size < 3 * MB
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert total < 8 * MB


def test_curated_spelling_pairs_are_known_variants():
    curated = pd.read_csv(
        Path(__file__).resolve().parents[2] / "reference_names" / "spelling_variants.csv",
        dtype=str,
        keep_default_na=False,
    )
    assert list(curated.columns) == ["name", "variant", "kind"]
    assert len(curated) >= 100
    groups = seed_groups()
    for a, b in zip(curated["name"], curated["variant"], strict=True):
        assert are_known_variants(a, b, groups), (a, b)


# --------------------------------------------------------------------- the loader


def test_loaders_return_copies():
    df = load_name_variants()
    df.loc[0, "name"] = "changed"
    assert load_name_variants().loc[0, "name"] != "changed"


def test_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / "last.csv"
    path.write_text("name,count\nsmith,10\n", encoding="utf-8")
    assert load_name_frequencies("last", path)["count"].tolist() == [10]
    path.write_text("name,count\nsmith,10\njones,9\n", encoding="utf-8")
    assert load_name_frequencies("last", path)["name"].tolist() == ["smith", "jones"]


def test_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="missing"):
        load_name_variants(tmp_path / "nope.csv")


def test_wrong_columns_raise_input_error(tmp_path):
    path = tmp_path / "first.csv"
    path.write_text("name,count\nmary,10\n", encoding="utf-8")
    with pytest.raises(InputError, match="gender_share_f"):
        load_name_frequencies("first", path)


def test_bad_kind_raises_input_error(tmp_path):
    path = tmp_path / "variants.csv"
    path.write_text("name,variant,kind,origin\nrobert,bob,typo,me\n", encoding="utf-8")
    with pytest.raises(InputError, match="typo"):
        load_name_variants(path)


def test_unknown_frequency_kind():
    with pytest.raises(ValueError, match="middle"):
        load_name_frequencies("middle")  # type: ignore[arg-type]


# ------------------------------------------------------------------ variant groups


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("bob", "robert"),
        ("rob", "robert"),
        ("bob", "rob"),
        ("peggy", "margaret"),
        ("bill", "william"),
        ("katherine", "catherine"),
        ("kathryn", "katherine"),
        ("steven", "stephen"),
        ("mohammed", "muhammad"),
        ("al", "alan"),
        ("al", "albert"),
        ("Robert", " BOB "),
        ("josé", "jose"),
    ],
)
def test_known_variants(a, b):
    assert are_known_variants(a, b, seed_groups())
    assert are_known_variants(b, a, seed_groups())


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alan", "albert"),
        ("albert", "alfred"),
        ("smith", "jones"),
        ("robert", "william"),
        ("robert", None),
        (None, None),
        ("", ""),
    ],
)
def test_not_known_variants(a, b):
    assert not are_known_variants(a, b, seed_groups())


def test_build_variant_groups_is_not_transitive():
    groups = build_variant_groups(
        [("robert", "bob"), ("robert", "rob"), ("alan", "al"), ("albert", "al")]
    )
    assert groups == {
        "al": ("al", "alan", "albert"),
        "alan": ("alan",),
        "albert": ("albert",),
        "bob": ("bob", "robert"),
        "rob": ("rob", "robert"),
        "robert": ("robert",),
    }
    assert are_known_variants("bob", "rob", groups)
    assert are_known_variants("al", "alan", groups)
    assert not are_known_variants("alan", "albert", groups)


def test_seed_group_keys():
    groups = seed_groups()
    assert {"bob", "robert"} <= set(variant_keys("bob", groups))
    assert variant_keys("robert", groups) == ["robert"]
    assert {"al", "alan", "albert", "alfred"} <= set(variant_keys("al", groups))
    assert variant_keys("alan", groups) == ["alan"]
    # a spelling group shares the key of its alphabetically first member
    assert "catherine" in variant_keys("katherine", groups)
    assert "catherine" in variant_keys("kathryn", groups)


def test_variant_keys_of_unknown_and_missing_names():
    groups = seed_groups()
    assert variant_keys("Zzyzx", groups) == ["zzyzx"]
    assert variant_keys(None, groups) is None
    assert variant_keys("  ", groups) is None
    assert variant_keys("-", groups) is None


def test_normalise_name():
    assert normalise_name(" José-María ") == "josemaria"
    assert normalise_name("O'Brien") == "obrien"
    assert normalise_name("") == ""


seed_names = st.sampled_from(sorted(set(load_name_variants()["variant"])))
any_names = st.one_of(seed_names, st.text(max_size=12), st.none())


@given(any_names, any_names)
def test_are_known_variants_is_symmetric(a, b):
    groups = seed_groups()
    assert are_known_variants(a, b, groups) == are_known_variants(b, a, groups)


@given(any_names)
def test_are_known_variants_is_reflexive(a):
    expected = a is not None and normalise_name(a) != ""
    assert are_known_variants(a, a, seed_groups()) is expected


@given(st.lists(st.tuples(seed_names, seed_names), max_size=20), any_names, any_names)
def test_groups_from_any_pairs_are_symmetric(pairs, a, b):
    groups = build_variant_groups(pairs)
    assert are_known_variants(a, b, groups) == are_known_variants(b, a, groups)
    for name, variant in pairs:
        assert are_known_variants(name, variant, groups)


def test_environment_does_not_matter(monkeypatch):
    monkeypatch.chdir(os.sep)
    assert len(load_name_variants()) > 2500
