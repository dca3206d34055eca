"""What name variants and term frequencies bring, and what they cost.

Usage:  .venv/bin/python benchmarks/names.py [--records N] [--nickname-scale S]
                                             [--datasets fake_1000 historical_50k]

1. A nickname-heavy synthetic set (``python -m mdm.generate --nickname-scale S``):
   recall at equal precision with and without the known-variant level, and after
   one round of learning: the people are split in two halves; half A is reconciled
   with an empty variant list so that variants are learned from its confident
   links; half B is then reconciled with only what half A taught (no seed list), and
   compared with half B without variants and with the seed list.
2. The public labelled sets (fake_1000, historical_50k; seed them first with
   ``../shared/tools/seed-splink-datasets .venv/bin/python``): F1 with and without
   variants and term-frequency adjustment.
3. The cost (``--cost-records N``, default 100,000; data from benchmarks/bulk.py's
   cache): bulk reconcile time with the variant level on and off, and the in-process
   scorer's time to score one record against 50 candidates, on and off.

Recall at equal precision is read off the scored pairs (pair level): for each
configuration, the share of true pairs scored at or above the highest threshold
whose precision is still at least P.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from mdm.accuracy import evaluate  # noqa: E402
from mdm.bulk.ingest import SourceSpec, parse_source_arg  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.generate import GeneratorConfig, write_sample  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402
from mdm.rules.match import MatchRules, NameComparison  # noqa: E402
from mdm.store import open_store  # noqa: E402

RULES = DEFAULT_MATCH_RULES
PRECISIONS = (0.99, 0.995)
TRUTH = "true_person_id"


def configured(match: MatchRules, *, variants: bool = True, tf: bool = True) -> MatchRules:
    """The rules with the name comparisons' variant level and term frequencies on or off."""
    comparisons = [
        c.model_copy(update={"variants": c.variants and variants, "term_frequency": tf})
        if isinstance(c, NameComparison)
        else c
        for c in match.comparisons
    ]
    return match.model_copy(update={"comparisons": comparisons})


def pair_curve(db: Path, truth: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(probability, is a true pair) of the stored pairs, best first, and all true pairs."""
    with duckdb.connect(str(db), read_only=True) as con:
        pairs = con.execute(
            "SELECT p.match_probability, "
            f"json_extract_string(l.extra, '$.{truth}') = json_extract_string(r.extra, "
            f"'$.{truth}') AS same FROM pairs p "
            "JOIN records l ON l.source = p.source_l AND l.record_id = p.record_id_l "
            "JOIN records r ON r.source = p.source_r AND r.record_id = p.record_id_r "
            "ORDER BY p.match_probability DESC"
        ).df()
        true_pairs = con.execute(
            f"SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) AS n FROM records "
            f"GROUP BY json_extract_string(extra, '$.{truth}'))"
        ).fetchall()[0][0]
    return pairs["match_probability"].to_numpy(), pairs["same"].to_numpy(bool), int(true_pairs)


def recall_at_precision(db: Path, truth: str, precision: float) -> float:
    """Pair-level recall at the lowest threshold whose precision is still >= ``precision``."""
    _, same, total = pair_curve(db, truth)
    tp = np.cumsum(same)
    prec = tp / np.arange(1, len(same) + 1)
    ok = np.nonzero(prec >= precision)[0]
    return float(tp[ok[-1]] / total) if len(ok) else 0.0


def run(
    specs: list[SourceSpec],
    db: Path,
    match: MatchRules,
    *,
    variants: list[tuple[str, str]] | None = None,
    truth: str = TRUTH,
) -> dict:
    """Reconcile into a fresh store (with the given variant list instead of the seed list,
    when given) and measure it."""
    if variants is not None:
        con = open_store(db)
        con.execute("DELETE FROM name_variants")
        for name, variant in variants:
            con.execute(
                "INSERT INTO name_variants VALUES (?, ?, 'nickname', 'learned', NULL, 0, "
                "'active', now(), now())",
                [name, variant],
            )
        con.close()
    bundle = replace(RulesBundle.load(RULES), match=match)
    started = time.perf_counter()
    result = reconcile(specs, db, bundle)
    seconds = time.perf_counter() - started
    report = evaluate(db, truth)
    figures = {
        "f1": report.pairwise["f1"],
        "precision": report.pairwise["precision"],
        "recall": report.pairwise["recall"],
        "bcubed_f1": report.bcubed["f1"],
        "seconds": round(seconds, 2),
        "predict_seconds": result.seconds.get("predict"),
    }
    for p in PRECISIONS:
        figures[f"recall@P{p}"] = recall_at_precision(db, truth, p)
    return figures


def learned_pairs(db: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT name, variant FROM name_variants WHERE origin = 'learned' "
            "AND status = 'active' ORDER BY 1, 2"
        ).fetchall()


def split_by_person(folder: Path, out: Path) -> dict[str, list[SourceSpec]]:
    """Write halves A and B of the sample (each person wholly in one half) as CSV files."""
    halves: dict[str, list[SourceSpec]] = {"A": [], "B": []}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".md":
            continue
        frame = {
            ".csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False),
            ".parquet": lambda p: pd.read_parquet(p).astype("string"),
            ".jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
            ".xlsx": lambda p: pd.read_excel(p, dtype=str, engine="calamine").fillna(""),
        }[path.suffix](path)
        in_a = frame[TRUTH].str[1:].astype(int) % 2 == 0  # P0000620 -> person 620
        for half, part in (("A", frame[in_a]), ("B", frame[~in_a])):
            target = out / half / f"{path.stem}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            part.to_csv(target, index=False)
            halves[half].append(parse_source_arg(f"{path.stem}={target}"))
    return halves


def synthetic(records: int, scale: float, tmp: Path) -> dict:
    folder = tmp / "nick"
    write_sample(folder, GeneratorConfig(n_records=records, seed=2026, nickname_scale=scale))
    specs = [parse_source_arg(str(p)) for p in sorted(folder.iterdir()) if p.suffix != ".md"]
    base = RulesBundle.load(RULES).match
    rows: dict[str, dict] = {}
    rows["all: no variant level"] = run(specs, tmp / "s0.duckdb", configured(base, variants=False))
    rows["all: seed variants"] = run(specs, tmp / "s1.duckdb", base)
    halves = split_by_person(folder, tmp / "halves")
    rows["A: empty list (learning)"] = run(halves["A"], tmp / "a.duckdb", base, variants=[])
    learned = learned_pairs(tmp / "a.duckdb")
    rows["B: no variant level"] = run(
        halves["B"], tmp / "b0.duckdb", configured(base, variants=False)
    )
    rows["B: learned from A only"] = run(halves["B"], tmp / "b1.duckdb", base, variants=learned)
    rows["B: seed variants"] = run(halves["B"], tmp / "b2.duckdb", base)
    return {"rows": rows, "learned_pairs": len(learned), "learned_examples": learned[:15]}


def public(datasets: list[str], tmp: Path) -> dict:
    from accuracy import OWN_RULES, write_inputs

    out: dict[str, dict] = {}
    for name in datasets:
        folder = tmp / name
        folder.mkdir()
        specs = write_inputs(name, folder)
        rules_path = HERE / "rules" / OWN_RULES[name] if name in OWN_RULES else RULES
        base = RulesBundle.load(rules_path, mappings_dir=HERE / "rules").match
        for label, rules in (
            ("variants + TF", base),
            ("no variants", configured(base, variants=False)),
            ("no TF", configured(base, tf=False)),
            ("neither", configured(base, variants=False, tf=False)),
        ):
            db = folder / f"{label.replace(' ', '_').replace('+', 'and')}.duckdb"
            bundle = replace(RulesBundle.load(rules_path, mappings_dir=HERE / "rules"), match=rules)
            started = time.perf_counter()
            reconcile(specs, db, bundle)
            seconds = time.perf_counter() - started
            report = evaluate(db, "truth")
            out.setdefault(name, {})[label] = {
                "f1": report.pairwise["f1"],
                "precision": report.pairwise["precision"],
                "recall": report.pairwise["recall"],
                "bcubed_f1": report.bcubed["f1"],
                "seconds": round(seconds, 2),
            }
            print(name, label, out[name][label], flush=True)
    return out


def cost(records: int, tmp: Path, repeats: int = 2) -> dict:
    """Bulk time and scoring latency with the variant level on and off."""
    from bulk import generate

    from mdm.linkage.scorer import Scorer
    from mdm.store.reads import latest_model

    folder = generate(records)
    specs = [
        parse_source_arg(str(p))
        for p in sorted(folder.iterdir())
        if p.suffix in (".csv", ".parquet", ".jsonl", ".xlsx")
    ]
    base = RulesBundle.load(RULES).match
    out: dict[str, dict] = {}
    for label, rules in (("variant level on", base), ("off", configured(base, variants=False))):
        seconds, predict = [], []
        for attempt in range(repeats):
            db = tmp / f"cost-{label[:3]}-{attempt}.duckdb"
            started = time.perf_counter()
            result = reconcile(specs, db, replace(RulesBundle.load(RULES), match=rules))
            seconds.append(time.perf_counter() - started)
            predict.append(result.seconds["predict"])
        with duckdb.connect(str(db), read_only=True) as con:
            model = latest_model(con)
            sample = con.execute(
                "SELECT * EXCLUDE (extra, raw) FROM records USING SAMPLE 2050 ROWS (reservoir, 7)"
            ).df()
        scorer = Scorer(model)
        rows = [scorer.prepare(r) for r in sample.to_dict("records")]
        probes, candidates = rows[:1000], rows[1000:1050]
        timings = []
        for probe in probes:
            started = time.perf_counter()
            scorer.score_candidates(probe, candidates)
            timings.append(time.perf_counter() - started)
        timings.sort()
        out[label] = {
            "reconcile_seconds": round(min(seconds), 2),
            "predict_seconds": round(min(predict), 2),
            "score_50_p50_ms": round(timings[len(timings) // 2] * 1000, 3),
            "score_50_p99_ms": round(timings[int(len(timings) * 0.99)] * 1000, 3),
        }
        print(f"cost {records} records, {label}: {out[label]}", flush=True)
    return out


def _print_synthetic(figures: dict, records: int, scale: float) -> None:
    print(f"\nnickname-heavy synthetic set: {records} records, scale {scale}")
    header = ["F1", "P", "R"] + [f"R@P{p}" for p in PRECISIONS] + ["seconds"]
    print(f"{'configuration':<28}" + "".join(f"{h:>10}" for h in header))
    for label, row in figures["rows"].items():
        values = [row["f1"], row["precision"], row["recall"]]
        values += [row[f"recall@P{p}"] for p in PRECISIONS]
        print(f"{label:<28}" + "".join(f"{v:>10.4f}" for v in values) + f"{row['seconds']:>10.1f}")
    print(
        f"learned from half A: {figures['learned_pairs']} active pairs, e.g. "
        f"{figures['learned_examples'][:8]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--nickname-scale", type=float, default=5.0)
    parser.add_argument("--datasets", nargs="*", default=["fake_1000", "historical_50k"])
    parser.add_argument("--cost-records", type=int, default=100_000, help="0 skips the cost")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        figures: dict = {}
        if args.cost_records:
            figures["cost"] = cost(args.cost_records, tmp)
        if not args.skip_synthetic:
            figures["synthetic"] = synthetic(args.records, args.nickname_scale, tmp)
            _print_synthetic(figures["synthetic"], args.records, args.nickname_scale)
        if args.datasets:
            figures["public"] = public(args.datasets, tmp)
            print(f"\n{'dataset':<16}{'configuration':<16}{'F1':>8}{'P':>8}{'R':>8}{'seconds':>9}")
            for name, rows in figures["public"].items():
                for label, row in rows.items():
                    print(
                        f"{name:<16}{label:<16}{row['f1']:>8.4f}{row['precision']:>8.4f}"
                        f"{row['recall']:>8.4f}{row['seconds']:>9.1f}"
                    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=float))


if __name__ == "__main__":
    main()
