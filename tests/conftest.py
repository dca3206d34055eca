"""Shared fixtures: small multi-source inputs written by the project's own generator."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.generate import GeneratorConfig, write_sample

# Property tests check behaviour, not speed: no per-example deadline, which a busy CI
# machine would otherwise turn into flaky failures.
settings.register_profile("mdm", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mdm")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four source files (crm, billing, webshop, branch) of 1,200 generated records."""
    folder = tmp_path_factory.mktemp("sample")
    write_sample(folder, GeneratorConfig(n_records=1200, seed=7))
    return folder


@pytest.fixture(scope="session")
def sample_files(sample_dir: Path) -> list[Path]:
    return sorted(p for p in sample_dir.iterdir() if p.suffix != ".md")


@pytest.fixture(scope="session")
def reconciled_db(sample_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store made by reconciling the sample files once. Read it; copy it to change it."""
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile
    from mdm.rules.bundle import RulesBundle

    db = tmp_path_factory.mktemp("reconciled") / "mdm.duckdb"
    rules = RulesBundle.load(DEFAULT_MATCH_RULES)
    reconcile([parse_source_arg(str(p)) for p in sample_files], db, rules)
    return db


@pytest.fixture
def store(reconciled_db: Path, tmp_path: Path):
    """A connection to a private copy of the reconciled store, to change at will."""
    import shutil

    import duckdb

    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    con = duckdb.connect(str(db))
    yield con
    con.close()
