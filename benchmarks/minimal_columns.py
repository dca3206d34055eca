"""Accuracy with only names and a birth date: mdm's default rules against a two-line rule.

Usage:  .venv/bin/python benchmarks/minimal_columns.py [DATASET ...] [--records N] [--json F]

Each dataset is cut down to a record id, the name columns and the date of birth (and
its truth, which rides along as an extra attribute and is used only for scoring):

* ``febrl3``, ``febrl4``: splink's copies of FEBRL 3 and 4 (given name, surname, date
  of birth; every duplicate carries an error);
* ``one-error``: FEBRL 4's originals (given name, surname, date of birth all present),
  each beside a copy carrying exactly one small error: a typo (a letter changed,
  dropped, added or two swapped) in one name, or one digit of the date changed. No true
  pair agrees exactly on all three;
* ``generated-gb``, ``generated-us``: the generator's default output and ``--locale
  us`` output (``--records`` in all, seed 0), each source keeping its id, name and
  birth-date columns.

Each is reconciled with mdm's default rules (``mdm reconcile``'s code path, label free)
and scored pairwise and B-cubed. Beside it, on the same standardised records, the
two-line rule the issue measured: same birth date with both names at Jaro-Winkler
>= 0.85, or both names equal with the dates one edit apart (connected components).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from splink_reference import load_dataset  # noqa: E402

from mdm.accuracy import evaluate  # noqa: E402
from mdm.bulk.ingest import SourceSpec  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.clusters import components  # noqa: E402
from mdm.evaluation import bcubed_metrics, pairwise_metrics  # noqa: E402
from mdm.generate import GeneratorConfig, generate_sources  # noqa: E402
from mdm.generate.sources_us import MAPPINGS as US_MAPPINGS  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402
from mdm.store import open_store  # noqa: E402
from mdm.store.reads import latest_model  # noqa: E402

DATASETS = ("febrl3", "febrl4", "one-error", "generated-gb", "generated-us")
#: The schema attributes a names + birth date source keeps.
KEPT = ("record_id", "first_name", "middle_name", "last_name", "full_name", "date_of_birth")
SAMPLE_MAPPINGS = HERE.parent / "mdm" / "data" / "sample" / "sources"
TRUTH = "truth"


def _write_source(folder: Path, name: str, frame: pd.DataFrame, mapping: dict) -> SourceSpec:
    """One source file (only the kept columns and the truth) and its mapping."""
    columns = {k: v for k, v in mapping["columns"].items() if k in KEPT}
    kept = [*columns.values(), TRUTH]
    path = folder / f"{name}.parquet"
    frame[kept].astype("string").to_parquet(path, index=False)
    (folder / "sources").mkdir(exist_ok=True)
    text = {"source": name, "columns": columns, "options": mapping.get("options", {})}
    (folder / "sources" / f"{name}.yaml").write_text(yaml.safe_dump(text, sort_keys=False))
    return SourceSpec(name, path)


def _febrl(name: str, folder: Path) -> list[SourceSpec]:
    data = load_dataset(name)
    sources = ("febrl4a", "febrl4b") if name == "febrl4" else (name,)
    specs = []
    for source, frame in zip(sources, data.frames, strict=True):
        mapping = yaml.safe_load((HERE / "rules" / "sources" / f"{source}.yaml").read_text())
        frame = frame.assign(**{TRUTH: frame["cluster"]})
        specs.append(_write_source(folder, source, frame, mapping))
    return specs


LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(text: str, rng: np.random.Generator) -> str:
    """``text`` with one edit: a letter changed, dropped, added, or two neighbours swapped."""
    i = int(rng.integers(len(text)))
    kind = rng.choice(["change", "drop", "add", "swap"] if len(text) > 1 else ["change", "add"])
    if kind == "change":
        other = LETTERS.replace(text[i], "")
        return text[:i] + other[int(rng.integers(len(other)))] + text[i + 1 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "add":
        return text[:i] + LETTERS[int(rng.integers(26))] + text[i:]
    i = min(i, len(text) - 2)
    swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return swapped if swapped != text else text[:i] + text[i + 1 :]


def date_typo(date: str, rng: np.random.Generator) -> str:
    """A ``yyyymmdd`` date with one digit changed, still a valid date."""
    while True:
        i = int(rng.choice([2, 3, 4, 5, 6, 7]))
        changed = date[:i] + str(int(rng.integers(10))) + date[i + 1 :]
        if changed != date and not pd.isna(
            pd.to_datetime(changed, format="%Y%m%d", errors="coerce")
        ):
            return changed


def _one_error(folder: Path) -> list[SourceSpec]:
    originals = load_dataset("febrl4").frames[0]
    originals = originals.dropna(subset=["given_name", "surname", "date_of_birth"])
    originals = originals[pd.to_datetime(originals["date_of_birth"], format="%Y%m%d",
                                         errors="coerce").notna()]  # fmt: skip
    rng = np.random.default_rng(0)
    copies = originals.copy()
    for row, where in zip(copies.index, rng.integers(3, size=len(copies)), strict=True):
        column = ("given_name", "surname", "date_of_birth")[where]
        value = copies.at[row, column]
        copies.at[row, column] = date_typo(value, rng) if where == 2 else typo(value, rng)
    copies["rec_id"] = copies["rec_id"].str.replace("-org", "-dup")
    frame = pd.concat([originals, copies], ignore_index=True)
    frame = frame.assign(**{TRUTH: frame["cluster"]})
    mapping = yaml.safe_load((HERE / "rules" / "sources" / "febrl3.yaml").read_text())
    return [_write_source(folder, "one_error", frame, mapping)]


def _generated(locale: str, folder: Path, records: int) -> list[SourceSpec]:
    frames = generate_sources(GeneratorConfig(n_records=records, seed=0, locale=locale))
    specs = []
    for source, frame in frames.items():
        if locale == "us":
            mapping = {"columns": US_MAPPINGS[source], "options": {"date_order": "auto"}}
        else:
            mapping = yaml.safe_load((SAMPLE_MAPPINGS / f"{source}.yaml").read_text())
        frame = frame.assign(**{TRUTH: frame["true_person_id"]})
        specs.append(_write_source(folder, source, frame, mapping))
    return specs


def build(name: str, folder: Path, records: int) -> list[SourceSpec]:
    """Write dataset ``name`` cut to names and birth date into ``folder`` (with mappings)."""
    if name == "one-error":
        return _one_error(folder)
    if name.startswith("febrl"):
        return _febrl(name, folder)
    return _generated(name.removeprefix("generated-"), folder, records)


RULE_SQL = """
WITH r AS (
    SELECT row_number() OVER () - 1 AS i, first_name AS f, last_name AS s,
           date_of_birth AS d FROM records
)
SELECT a.i, b.i FROM r a JOIN r b ON a.i < b.i AND a.d = b.d
WHERE jaro_winkler_similarity(a.f, b.f) >= 0.85 AND jaro_winkler_similarity(a.s, b.s) >= 0.85
UNION
SELECT a.i, b.i FROM r a JOIN r b ON a.i < b.i AND a.f = b.f AND a.s = b.s
WHERE levenshtein(a.d, b.d) <= 1
"""


def two_line_rule(db: Path) -> dict[str, float]:
    """Pairwise and B-cubed F1 of the hand-written rule on the store's standardised records."""
    store = open_store(db, create=False)
    try:
        truth = store.execute(
            "SELECT json_extract_string(extra, ['$.' || ?])[1] FROM records", [TRUTH]
        ).fetchnumpy()
        pairs = np.array(store.execute(RULE_SQL).fetchall(), dtype=np.int64).reshape(-1, 2)
    finally:
        store.close()
    labels = next(iter(truth.values()))
    clusters = components(len(labels), pairs[:, 0], pairs[:, 1])
    p = pairwise_metrics(clusters, labels)
    return {"precision": p.precision, "recall": p.recall, "f1": p.f1,
            "bcubed_f1": bcubed_metrics(clusters, labels).f1}  # fmt: skip


def run(name: str, folder: Path, records: int) -> dict:
    """Reconcile one cut-down dataset with the default rules and score it."""
    specs = build(name, folder, records)
    rules = RulesBundle.load(DEFAULT_MATCH_RULES, mappings_dir=folder)
    db = folder / "store.duckdb"
    started = time.perf_counter()
    result = reconcile(specs, db, rules)
    seconds = time.perf_counter() - started
    report = evaluate(db, TRUTH)
    store = open_store(db, create=False)
    model = latest_model(store)
    store.close()
    true_pairs = report.pairwise.get("true_pairs") or 0
    return {
        "prior": model.prior,
        "prior_basis": model.training.get("prior", {}).get("basis", "deterministic"),
        "true_prior": true_pairs / (result.records * (result.records - 1) / 2),
        "dataset": name,
        "records": result.records,
        "pairwise": report.pairwise,
        "bcubed": report.bcubed,
        "blocking_recall": report.blocking["recall"],
        "threshold": result.link_threshold,
        "notes": getattr(result, "notes", []),
        "rule": two_line_rule(db),
        "seconds": round(seconds, 1),
    }


def _print(row: dict) -> None:
    p, r = row["pairwise"], row["rule"]
    print(
        f"{row['dataset']:<13} {row['records']:>6} records | mdm pairwise P {p['precision']:.4f} "
        f"R {p['recall']:.4f} F1 {p['f1']:.4f} | B-cubed F1 {row['bcubed']['f1']:.4f} | "
        f"blocking recall {row['blocking_recall']:.4f} | threshold {row['threshold']:.3f} | "
        f"two-line rule F1 {r['f1']:.4f} (B-cubed {r['bcubed_f1']:.4f}) | prior "
        f"{row['prior']:.3g} ({row['prior_basis']}; true {row['true_prior']:.3g}) | "
        f"{row['seconds']} s",
        flush=True,
    )
    for note in row["notes"]:
        print(f"{'':<13} note: {note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(DATASETS), help=", ".join(DATASETS))
    parser.add_argument("--records", type=int, default=10_000, help="generated records")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    unknown = sorted(set(args.datasets) - set(DATASETS))
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {', '.join(DATASETS)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            folder = Path(tmp) / name
            folder.mkdir()
            rows.append(run(name, folder, args.records))
            _print(rows[-1])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
