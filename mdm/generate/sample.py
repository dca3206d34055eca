"""Generate the sources and write them as files."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mdm.bundled import SAMPLE_DIR
from mdm.generate import places_au, places_us, sources_au
from mdm.generate.config import GeneratorConfig
from mdm.generate.identifiers import SHARE, add_national_ids, mapping_with_identifier
from mdm.generate.names import Names, load_names
from mdm.generate.people import People, build_people
from mdm.generate.records import build_records
from mdm.generate.sources import format_source
from mdm.generate.sources_us import format_us_source, mapping_yaml

#: Above this many records in all, the branch source is written as CSV, not Excel.
EXCEL_MAX_RECORDS = 20_000

#: Locale -> how its people are re-dressed and its sources written.
_ABROAD = {
    "us": (places_us.localise_people, format_us_source),
    "au": (places_au.localise_people, sources_au.format_au_source),
}


@dataclass(frozen=True)
class Generated:
    """The source frames and the hidden people behind them."""

    frames: dict[str, pd.DataFrame]
    people: People


@lru_cache(maxsize=4)
def _names(directory: Path | None) -> Names:
    return load_names(directory)


def generate(config: GeneratorConfig) -> Generated:
    """Generate the people and their source records (deterministic for ``config.seed``)."""
    rng = np.random.default_rng(config.seed)
    names = _names(config.names_dir)
    people = build_people(config, names, rng)
    if config.locale in _ABROAD:
        people = _ABROAD[config.locale][0](people)
    records = build_records(config, names, people, rng)
    frames = {}
    for i, name in enumerate(config.sources):
        rows = np.flatnonzero(records.source == i)
        if config.locale in _ABROAD:
            frames[name] = _ABROAD[config.locale][1](name, records, rows, people, rng)
        else:
            frames[name] = format_source(name, records, rows, rng)
    if config.national_ids:
        frames = add_national_ids(frames, len(people), config.locale, config.seed)
    return Generated(frames, people)


def generate_sources(config: GeneratorConfig) -> dict[str, pd.DataFrame]:
    """Source name -> frame in that source's own columns; values are ``str`` or ``None``.

    The frames hold ``config.n_records`` rows in all and are the same for the same config.
    """
    return generate(config).frames


def write_sample(out_dir: Path, config: GeneratorConfig) -> dict[str, Path]:
    """Write crm.csv, billing.parquet, webshop.jsonl and branch.xlsx into ``out_dir``.

    The branch file is branch.csv instead when ``config.n_records`` exceeds
    :data:`EXCEL_MAX_RECORDS` (Excel is slow to write and read at that size). With
    another ``locale``, or with ``national_ids`` (a column the bundled mappings do not
    name), the sources' mappings are written to ``out_dir/sources/`` too.
    Returns source name -> path of the file written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in generate_sources(config).items():
        paths[name] = _write(out_dir, name, frame, big=config.n_records > EXCEL_MAX_RECORDS)
    if config.locale in _ABROAD or config.national_ids:
        (out_dir / "sources").mkdir(exist_ok=True)
        columns = sources_au.mappings() if config.locale == "au" else None
        for name in paths:
            if config.locale in _ABROAD:  # the bundled mappings are for the UK columns
                text = mapping_yaml(name, config.locale, columns[name] if columns else None)
            else:
                text = (SAMPLE_DIR / "sources" / f"{name}.yaml").read_text()
            if config.national_ids and name in SHARE:
                text = mapping_with_identifier(text, config.locale)
            (out_dir / "sources" / f"{name}.yaml").write_text(text)
    return paths


def _write(out_dir: Path, name: str, frame: pd.DataFrame, big: bool) -> Path:
    if name == "billing":
        path = out_dir / "billing.parquet"
        schema = pa.schema([(c, pa.string()) for c in frame.columns])
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(table.replace_schema_metadata(None), path, compression="zstd")
    elif name == "webshop":
        path = out_dir / "webshop.jsonl"
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif name == "branch" and not big:
        path = out_dir / "branch.xlsx"
        frame.to_excel(path, index=False, sheet_name="customers", engine="openpyxl")
    else:
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
    return path
