"""The synthetic data generator: determinism, shape, households, variants, files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mdm.generate import (
    EXCEL_MAX_RECORDS,
    SOURCES,
    GeneratorConfig,
    generate,
    generate_sources,
    write_sample,
)
from mdm.generate.__main__ import main
from mdm.generate.names import load_names
from mdm.generate.people import JR, SR

RULES = Path(__file__).resolve().parents[1] / "mdm" / "data" / "sample" / "sources"
SAMPLE = Path(__file__).resolve().parents[1] / "mdm" / "data" / "sample"
POSTCODE = re.compile(r"^[A-Z]{1,2}\d{1,2} ?\d[A-Z]{2}$")


@pytest.fixture(scope="module")
def generated():
    return generate(GeneratorConfig(n_records=4000, seed=7))


@pytest.fixture(scope="module")
def large():
    return generate(GeneratorConfig(n_records=30_000, seed=11))


def _all_records(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([f.assign(source=name) for name, f in frames.items()], ignore_index=True)


def test_same_seed_same_frames():
    first = generate_sources(GeneratorConfig(n_records=1500, seed=3))
    second = generate_sources(GeneratorConfig(n_records=1500, seed=3))
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_other_seed_other_frames():
    first = generate_sources(GeneratorConfig(n_records=1500, seed=3))
    other = generate_sources(GeneratorConfig(n_records=1500, seed=4))
    assert not first["crm"].equals(other["crm"])


@pytest.mark.parametrize("n", [0, 1, 7, 999, 5000], ids=lambda n: f"n={n}")
def test_total_rows_is_exactly_n_records(n):
    frames = generate_sources(GeneratorConfig(n_records=n, seed=1))
    assert set(frames) == set(SOURCES)
    assert sum(len(f) for f in frames.values()) == n


def test_a_subset_of_sources():
    frames = generate_sources(GeneratorConfig(n_records=800, sources=("crm", "webshop")))
    assert set(frames) == {"crm", "webshop"}
    assert sum(len(f) for f in frames.values()) == 800


@pytest.mark.parametrize("source", SOURCES)
def test_every_mapped_column_is_in_the_source(generated, source):
    mapping = yaml.safe_load((RULES / f"{source}.yaml").read_text())
    assert mapping["source"] == source
    frame = generated.frames[source]
    missing = set(mapping["columns"].values()) - set(frame.columns)
    assert not missing
    assert "true_person_id" in frame.columns
    assert frame[mapping["columns"]["record_id"]].is_unique


def test_values_are_text_or_none(generated):
    for frame in generated.frames.values():
        for column in frame.columns:
            values = frame[column].to_numpy()
            assert all(v is None or isinstance(v, str) for v in values), column


def test_people_appear_in_several_sources(generated):
    records = _all_records(generated.frames)
    sources_per_person = records.groupby("true_person_id")["source"].nunique()
    assert (sources_per_person >= 2).mean() > 0.2
    assert sources_per_person.max() >= 3


def test_records_per_person_follow_the_config(generated):
    counts = _all_records(generated.frames)["true_person_id"].value_counts()
    assert counts.min() >= 1 and counts.max() <= 6
    assert 0.3 < (counts == 1).mean() < 0.5


def test_households_share_addresses(generated):
    records = _all_records(generated.frames)
    crm = records[records["source"] == "crm"].dropna(subset=["addr1", "postcode"])
    people_at = crm.groupby(["addr1", "postcode"])["true_person_id"].nunique()
    assert (people_at >= 2).sum() >= 20
    people = generated.people
    sizes = np.bincount(people.household)
    assert 0.3 < (sizes[people.household] >= 2).mean() < 0.8


def test_twins_and_namesake_sons(large):
    people = large.people
    frame = pd.DataFrame(
        {
            "hh": people.household,
            "dob": people.dob,
            "last": people.last,
            "first": people.first,
        }
    )
    twins = frame[frame.duplicated(["hh", "dob", "last"], keep=False)]
    assert len(twins) >= 2
    assert (twins.groupby(["hh", "dob"])["first"].nunique() > 1).all()
    juniors = np.flatnonzero(people.suffix == JR)
    assert len(juniors) >= 5
    for son in juniors[:20]:
        father = np.flatnonzero((people.household == people.household[son]) & (people.suffix == SR))
        if len(father):
            assert people.first[father[0]] == people.first[son]
            gap = (people.dob[son] - people.dob[father[0]]).astype(int) / 365.25
            assert 19 <= gap <= 41


def test_nicknames_appear(generated):
    names = load_names()
    people = generated.people
    shop = generated.frames["webshop"]
    person = shop["true_person_id"].str[1:].astype(int).to_numpy() - 1
    formal = people.first[person]
    nicknamed = 0
    for i, given in zip(formal, shop["first_name"], strict=True):
        start, stop = names.nicknames.start[i], names.nicknames.stop[i]
        nicknamed += given in set(names.nicknames.values[start:stop])
    assert nicknamed >= 0.03 * len(shop)


def test_record_formats(generated):
    frames = generated.frames
    assert frames["crm"]["dob"].dropna().str.fullmatch(r"\d\d/\d\d/\d{4}").all()
    assert frames["billing"]["birth_date"].dropna().str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert frames["webshop"]["date_of_birth"].dropna().str.fullmatch(r"\d\d/\d\d/\d{4}").all()
    assert frames["branch"]["dob"].dropna().str.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}").all()
    assert frames["billing"]["phone"].dropna().str.startswith("+44").all()
    assert frames["crm"]["gender"].dropna().isin(["M", "F"]).all()
    assert frames["billing"]["full_name"].str.contains(", ").any()


def test_without_errors_values_keep_their_shape():
    frames = generate_sources(GeneratorConfig(n_records=3000, seed=5, error_scale=0.0))
    crm = frames["crm"]
    assert crm["postcode"].notna().all()
    assert crm["postcode"].map(lambda p: bool(POSTCODE.match(p))).all()
    assert crm["email"].dropna().str.fullmatch(r"[a-z0-9._]+@[a-z.-]+").all()


def test_placeholders_occur():
    records = _all_records(generate_sources(GeneratorConfig(n_records=20_000, seed=2)))
    assert (records["dob"] == "01/01/1970").any()
    assert records["email"].isin(["n/a", "none", "noemail@example.com"]).any()


def test_write_sample_round_trips(tmp_path, generated):
    config = GeneratorConfig(n_records=4000, seed=7)
    paths = write_sample(tmp_path, config)
    assert {name: p.name for name, p in paths.items()} == {
        "crm": "crm.csv",
        "billing": "billing.parquet",
        "webshop": "webshop.jsonl",
        "branch": "branch.xlsx",
    }
    read = {
        "crm": pd.read_csv(paths["crm"], dtype=str, keep_default_na=False),
        "billing": pd.read_parquet(paths["billing"]),
        "webshop": pd.read_json(paths["webshop"], lines=True, dtype=False),
        "branch": pd.read_excel(paths["branch"], dtype=str, engine="calamine"),
    }
    for name, frame in generated.frames.items():
        back = read[name]
        assert list(back.columns) == list(frame.columns)
        expected = frame.fillna("").astype(str).reset_index(drop=True)
        got = back.astype(object).where(back.notna(), "").astype(str)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj=name)


def test_large_runs_write_branch_as_csv(tmp_path):
    config = GeneratorConfig(n_records=EXCEL_MAX_RECORDS + 1, seed=1, sources=("branch",))
    paths = write_sample(tmp_path, config)
    assert paths["branch"].name == "branch.csv"
    assert len(pd.read_csv(paths["branch"], dtype=str)) == EXCEL_MAX_RECORDS + 1


def test_command_line_writes_the_files(tmp_path, capsys):
    assert main(["--records", "300", "--seed", "2", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "billing.parquet",
        "branch.xlsx",
        "crm.csv",
        "webshop.jsonl",
    ]
    assert "crm.csv" in capsys.readouterr().out


def test_bundled_sample_is_the_documented_one():
    files = sorted(p.name for p in SAMPLE.iterdir() if p.is_file() and p.suffix != ".md")
    assert files == ["billing.parquet", "branch.xlsx", "crm.csv", "webshop.jsonl"]
    assert sorted(p.stem for p in (SAMPLE / "sources").iterdir()) == [
        p.split(".")[0] for p in files
    ]
    crm = pd.read_csv(SAMPLE / "crm.csv", dtype=str, keep_default_na=False)
    expected = generate_sources(GeneratorConfig(n_records=6000, seed=42))["crm"]
    assert list(crm["customer_no"]) == list(expected["customer_no"])
    assert list(crm["true_person_id"]) == list(expected["true_person_id"])
    assert sum(f.stat().st_size for f in SAMPLE.rglob("*")) < 1_200_000


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="sources"):
        GeneratorConfig(n_records=10, sources=("crm", "ledger"))
    with pytest.raises(ValueError, match="records_per_person"):
        GeneratorConfig(n_records=10, records_per_person=(0.5, 0.2))


def test_nickname_scale_makes_people_go_by_nicknames_more():
    def renamed_share(scale: float) -> float:
        crm = generate_sources(GeneratorConfig(n_records=3000, seed=5, nickname_scale=scale))["crm"]
        names = crm["fname"].dropna().str.lower()
        names = names[names.str.len() > 1]
        people = crm.loc[names.index, "true_person_id"]
        # A person's records that disagree on their first name (nicknames, spellings, typos).
        return float((names.groupby(people).transform("nunique") > 1).mean())

    plain, heavy = renamed_share(1.0), renamed_share(6.0)
    assert heavy > plain + 0.05
    with pytest.raises(ValueError, match="nickname_scale"):
        GeneratorConfig(n_records=10, nickname_scale=-1)


def test_household_scale_makes_denser_households_sharing_more():
    def shares(scale: float) -> tuple[float, float, float]:
        result = generate(GeneratorConfig(n_records=4000, seed=5, household_scale=scale))
        people = result.people
        _, size = np.unique(people.household, return_counts=True)
        landline = pd.Series(people.landline).dropna()
        email = pd.Series(people.email).dropna()
        return (
            float(size.mean()),
            float(landline.duplicated(keep=False).mean()),
            float(email.duplicated(keep=False).mean()),
        )

    plain, dense = shares(1.0), shares(3.0)
    assert dense[0] > plain[0] + 0.3  # more customers per household
    assert dense[1] > plain[1] + 0.1  # more customers share a landline
    assert dense[2] > plain[2] + 0.05  # and an email
    with pytest.raises(ValueError, match="household_scale"):
        GeneratorConfig(n_records=10, household_scale=-1)


def test_the_new_knobs_leave_the_default_output_unchanged():
    plain = generate_sources(GeneratorConfig(n_records=1200, seed=8, locale="us"))
    explicit = generate_sources(
        GeneratorConfig(
            n_records=1200, seed=8, locale="us", household_scale=1.0, single_record_source=None
        )
    )
    for name in plain:
        pd.testing.assert_frame_equal(plain[name], explicit[name])
    crm = pd.read_csv(SAMPLE / "crm.csv", dtype=str, keep_default_na=False)
    expected = generate_sources(GeneratorConfig(n_records=6000, seed=42))["crm"]
    pd.testing.assert_frame_equal(crm, expected.fillna("").astype(str), check_dtype=False)


def test_single_record_source_holds_each_person_once():
    config = GeneratorConfig(
        n_records=3000,
        seed=6,
        sources=("crm", "webshop"),
        records_per_person=(0.1, 0.15, 0.2, 0.2, 0.15, 0.2),
        single_record_source="crm",
    )
    frames = generate_sources(config)
    crm, webshop = frames["crm"]["true_person_id"], frames["webshop"]["true_person_id"]
    assert crm.is_unique
    assert set(webshop) <= set(crm)  # every person is in the master
    assert webshop.duplicated().mean() > 0.4  # the other source is heavily duplicated
    assert len(crm) + len(webshop) == 3000
    with pytest.raises(ValueError, match="single_record_source"):
        GeneratorConfig(n_records=10, sources=("crm",), single_record_source="crm")
    with pytest.raises(ValueError, match="single_record_source"):
        GeneratorConfig(n_records=10, single_record_source="ledger")
