"""``--national-ids``: people carry a national identifier in the CRM and billing
sources, in the locale's form, with the errors such numbers collect; without it the
generator's output is what it was."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mdm.generate import GeneratorConfig, generate_sources, write_sample
from mdm.generate.identifiers import COLUMN, SHARE
from mdm.rules.sources import load_source_mapping
from mdm.standardise.identifiers import clean_national_id

FORMS = {
    "gb": re.compile(r"^[A-Z]{2}\d{6}[A-D]$"),
    "us": re.compile(r"^\d{3}-\d{2}-\d{4}$"),
    "au": re.compile(r"^\d{3} \d{3} \d{3}$"),
}


@pytest.mark.parametrize("locale", ["gb", "us", "au"])
def test_people_carry_one_identifier_in_the_locales_form(locale: str) -> None:
    config = GeneratorConfig(n_records=6000, seed=5, locale=locale, national_ids=True)
    frames = generate_sources(config)
    column, filler = COLUMN[locale]
    for name, frame in frames.items():
        if name not in SHARE:
            assert column not in frame.columns
            continue
        values = frame[column]
        share = values.notna().mean()
        assert abs(share - SHARE[name]) < 0.05, (name, share)
        given = values.dropna()
        assert (given == filler).mean() < 0.03  # a filler now and then
        well_formed = given[given != filler].map(lambda v: bool(FORMS[locale].match(v)))
        assert well_formed.mean() > 0.99
    both = pd.concat(
        [frames[n][["true_person_id", column]].dropna() for n in SHARE], ignore_index=True
    )
    both = both[both[column] != filler]
    # Mostly one number a person, and one person a number; slips make the exceptions.
    per_person = both.groupby("true_person_id")[column].nunique()
    assert 0.9 < (per_person == 1).mean() < 1.0
    per_number = both.groupby(column)["true_person_id"].nunique()
    assert (per_number == 1).mean() > 0.98
    # The standardiser reads every form; fillers read as missing.
    assert clean_national_id(filler) is None
    assert all(clean_national_id(v) for v in given[given != filler].head(50))


def test_without_national_ids_the_output_is_unchanged() -> None:
    config = GeneratorConfig(n_records=3000, seed=9)
    plain = generate_sources(config)
    with_ids = generate_sources(replace(config, national_ids=True))
    for name, frame in plain.items():
        other = with_ids[name].drop(columns=[COLUMN["gb"][0]], errors="ignore")
        pd.testing.assert_frame_equal(frame, other)


def test_the_written_mappings_name_the_identifier(tmp_path: Path) -> None:
    config = GeneratorConfig(n_records=2000, seed=2, national_ids=True)
    write_sample(tmp_path, config)
    for name in ("crm", "billing", "webshop", "branch"):
        mapping = load_source_mapping(tmp_path / "sources" / f"{name}.yaml")
        named = dict(mapping.columns).get("national_id")
        assert named == (COLUMN["gb"][0] if name in SHARE else None), name
