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
