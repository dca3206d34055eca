"""Generated data for benchmarks that hold some records back from the bulk run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def hold_back_crm(folder: Path, n: int, work: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The first ``n`` crm records of ``folder`` held back: (held, kept, the sources to
    reconcile in bulk as NAME=PATH, with the kept crm records written to ``work``)."""
    if not (folder / "crm.csv").exists():
        raise SystemExit(f"no {folder}: run benchmarks/bulk.py --records {folder.name} first")
    crm = pd.read_csv(folder / "crm.csv", dtype=str)
    held, kept = crm.iloc[:n], crm.iloc[n:]
    kept.to_csv(work / "crm.csv", index=False)
    sources = [f"crm={work / 'crm.csv'}"] + [
        f"{p.stem}={p}" for p in sorted(folder.iterdir())
        if p.suffix in (".csv", ".parquet", ".jsonl") and p.stem != "crm"
    ]  # fmt: skip
    return held, kept, sources


def generated_sources(records: int, seed: int) -> list[Path]:
    """Source files of ``records`` generated records (benchmarks/data/lifecycle-<N>/, made
    with the project's generator the first time)."""
    from mdm.generate import GeneratorConfig, write_sample

    folder = Path(__file__).resolve().parent / "data" / f"lifecycle-{records}"
    if not folder.exists():
        write_sample(folder, GeneratorConfig(n_records=records, seed=seed))
    return sorted(p for p in folder.iterdir() if p.suffix != ".md")


def latency_ms(seconds: list[float], digits: int = 1) -> dict:
    """Count, p50 and p99 of ``seconds``, in milliseconds."""
    import numpy as np

    array = np.asarray(seconds) * 1000
    return {
        "n": len(seconds),
        "p50_ms": round(float(np.percentile(array, 50)), digits),
        "p99_ms": round(float(np.percentile(array, 99)), digits),
    }
