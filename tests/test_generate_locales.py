"""``--locale us`` and ``au``: customers abroad, and the mdm reading them unprompted."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from mdm.generate import SOURCES, GeneratorConfig, generate_sources, sources_au, write_sample
from mdm.generate.__main__ import main
from mdm.generate.places_us import STATE, STATE_NAME
from mdm.generate.sources_us import COLUMNS, MAPPINGS
from mdm.rules.sources import SourceMapping
from mdm.standardise.frame import StandardiseOptions, standardise_frame

PHONE_STYLES = {
    "one-dashes": r"1-\d{3}-\d{3}-\d{4}",
    "parens": r"\(\d{3}\) \d{3}-\d{4}",
    "dots": r"\d{3}\.\d{3}\.\d{4}",
    "dashes": r"\d{3}-\d{3}-\d{4}",
    "international": r"\+1 \d{3} \d{3} \d{4}",
    "e164": r"\+1\d{10}",
    "local": r"\d{3}-\d{4}",
}


@pytest.fixture(scope="module")
def us() -> dict[str, pd.DataFrame]:
    return generate_sources(GeneratorConfig(n_records=6000, seed=4, locale="us"))


def _schema(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    return frame.rename(columns={c: name for name, c in MAPPINGS[source].items()})


def test_columns_and_mappings_agree(us: dict[str, pd.DataFrame]) -> None:
    for source, frame in us.items():
        assert tuple(frame.columns) == COLUMNS[source]
        assert set(MAPPINGS[source].values()) <= set(frame.columns)


def test_every_phone_style_appears(us: dict[str, pd.DataFrame]) -> None:
    phones = pd.concat([us["crm"]["phone"], us["webshop"]["phone"], us["billing"]["phone"]])
    phones = phones.dropna()
    for name, pattern in PHONE_STYLES.items():
        assert phones.str.fullmatch(pattern).any(), name


def test_call_centre_has_a_few_local_numbers(us: dict[str, pd.DataFrame]) -> None:
    phones = us["crm"]["phone"].dropna()
    share = phones.str.fullmatch(PHONE_STYLES["local"]).mean()
    assert 0.02 < share < 0.10


def test_places_are_american(us: dict[str, pd.DataFrame]) -> None:
    states = set(STATE) | set(STATE_NAME)
    assert set(us["crm"]["state"].dropna()) <= set(STATE)
    assert set(us["branch"]["state"].dropna()) <= states
    assert us["branch"]["state"].isin(set(STATE_NAME)).any()
    zips = us["billing"]["zip_code"].dropna()
    assert zips.str.fullmatch(r"\d{5}(-\d{4})?").all()
    assert 0.5 < zips.str.contains("-").mean() < 0.9  # ZIP+4 on most billing records
    assert us["branch"]["zip"].dropna().str.fullmatch(r"\d{3,5}").all()  # Excel ate zeros
    assert us["billing"]["country"].dropna().isin({"US", "USA", "United States"}).all()
    assert us["crm"]["dob"].dropna().str.fullmatch(r"\d\d/\d\d/\d{4}").all()


def test_default_locale_is_the_uk_output() -> None:
    config = GeneratorConfig(n_records=500, seed=9)
    default, gb = generate_sources(config), generate_sources(GeneratorConfig(500, 9, locale="gb"))
    for source in SOURCES:
        pd.testing.assert_frame_equal(default[source], gb[source])
    with pytest.raises(ValueError, match="locale"):
        GeneratorConfig(n_records=10, locale="mars")


def test_us_sources_are_read_as_american(us: dict[str, pd.DataFrame]) -> None:
    """No region configured: fewer than 1% of phones unread, local numbers apart."""
    records = unread = local = 0
    for source, frame in us.items():
        out, report = standardise_frame(_schema(frame, source), StandardiseOptions())
        assert report.locale["phone_region"].value == "US", source
        assert report.locale["postcode_country"].value == "US", source
        assert report.date_order == "mdy" or source == "billing"
        records += int(frame[MAPPINGS[source]["phone"]].notna().sum())
        unread += report.unparseable["phone"]
        local += report.local_only
        zips = out["postcode"].dropna()
        assert zips.str.fullmatch(r"\d{5}").all(), source  # ZIP+4 and lost zeros repaired
    assert unread / records < 0.01
    assert 0 < local / records < 0.05


def test_write_sample_writes_the_mappings(tmp_path) -> None:
    paths = write_sample(tmp_path, GeneratorConfig(n_records=300, seed=1, locale="us"))
    for source in paths:
        text = (tmp_path / "sources" / f"{source}.yaml").read_text()
        mapping = SourceMapping.model_validate(yaml.safe_load(text))
        assert mapping.columns == MAPPINGS[source]
        assert mapping.options.default_region is None  # detected


def test_command_line_locale(tmp_path, capsys) -> None:
    assert main(["--records", "200", "--out", str(tmp_path), "--locale", "us"]) == 0
    assert re.search(r"explicit mappings are in .*sources", capsys.readouterr().err)


def test_au_sources_are_read_as_australian() -> None:
    frames = generate_sources(GeneratorConfig(n_records=3000, seed=2, locale="au"))
    columns = sources_au.mappings()
    records = unread = 0
    for source, frame in frames.items():
        assert tuple(frame.columns) == sources_au.COLUMNS[source]
        schema = frame.rename(columns={c: name for name, c in columns[source].items()})
        out, report = standardise_frame(schema, StandardiseOptions())
        assert report.locale["phone_region"].value == "AU", source
        assert report.date_order == "dmy", source
        assert out["postcode"].dropna().str.fullmatch(r"\d{4}").all(), source
        records += int(schema["phone"].notna().sum())
        unread += report.unparseable["phone"]
    assert unread / records < 0.01
