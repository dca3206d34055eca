"""The built wheel is a whole product: installed into a new environment, it runs the
demo and reconciles a user's file from a folder that has nothing to do with the
repository (the default rules, reference names and sample ship inside it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from mdm.bulk.ingest import SourceSpec, map_source
from mdm.bundled import SAMPLE_DIR
from mdm.rules.sources import load_source_mapping
from mdm.schema import ATTRIBUTES

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the project (the checkout is left as it is)."""
    tree = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.duckdb", "*.duckdb.wal")
    for name in ("mdm", "api"):
        shutil.copytree(REPO / name, tree / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(out), str(tree)], cwd=tree)  # fmt: skip
    (built,) = out.glob("mdm-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new environment holding the wheel; its dependencies are this environment's
    packages, reached through a path file (so nothing is downloaded)."""
    folder = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(folder)], cwd=folder)
    python = folder / "bin" / "python"
    purelib = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
             cwd=folder).stdout.strip()
    )  # fmt: skip
    # A plain path line: this environment's own .pth files (the editable install of the
    # checkout among them) are not run, so `mdm` can only come from the wheel.
    (purelib / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "-q", str(wheel)], cwd=folder)  # fmt: skip
    return folder


def test_the_wheel_carries_the_default_rules_names_and_sample(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (
        "mdm/data/rules/customer.match.yaml",
        "mdm/data/rules/customer.survivorship.yaml",
        "mdm/data/reference_names/first_names.csv",
        "mdm/data/reference_names/last_names.csv",
        "mdm/data/reference_names/name_variants.csv",
        "mdm/data/reference_names/LICENSES/Apache-2.0.txt",
        "mdm/data/sample/crm.csv",
        "mdm/store/schema.sql",
    ):
        assert path in names, path
    assert any(name.startswith("api/web/templates/") for name in names)


def test_installed_wheel_runs_the_demo_and_reconciles_a_users_file(
    venv: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mdm = str(venv / "bin" / "mdm")
    where = _run([str(venv / "bin" / "python"), "-c", "import mdm; print(mdm.__file__)"],
                 cwd=elsewhere).stdout  # fmt: skip
    assert where.startswith(str(venv)), where

    demo = _run([mdm, "demo", "--db", "demo.duckdb"], cwd=elsewhere)
    assert "pairwise F1" in demo.stdout
    # The service's command comes from the installed wheel's entry points (api/serve.py).
    assert "--audit-log" in _run([mdm, "serve", "--help"], cwd=elsewhere).stdout

    # A file whose header is exactly the customer schema: the sample's CRM, mapped.
    crm = SAMPLE_DIR / "crm.csv"
    mapped = map_source(
        SourceSpec("crm", crm), load_source_mapping(SAMPLE_DIR / "sources/crm.yaml")
    )
    customers = mapped.frame
    assert set(customers.columns) <= {"record_id", *ATTRIBUTES, "updated_at"}
    customers.to_csv(elsewhere / "customers.csv", index=False)
    _run([mdm, "init", "myrules"], cwd=elsewhere)
    for rules in ([], ["--rules", "myrules/customer.match.yaml"]):
        db = elsewhere / f"crm{len(rules)}.duckdb"
        result = _run([mdm, "reconcile", "crm=customers.csv", "--db", str(db), *rules],
                      cwd=elsewhere)  # fmt: skip
        assert "golden" in (result.stdout + result.stderr).lower()
        assert db.is_file()
