"""Layering and documentation checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mdm.cli import app

REPO = Path(__file__).resolve().parents[1]


def test_mdm_does_not_import_fastapi_or_the_api() -> None:
    modules = [
        f"mdm.{p.stem}" if p.parent.name == "mdm" else f"mdm.{p.parent.name}.{p.stem}"
        for p in (REPO / "mdm").rglob("*.py")
        if p.stem not in ("__init__", "__main__") and "generate" not in p.parts
    ]
    code = (
        f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'api')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[]"


#: Every command the CLI registers, so a new one cannot go without help and docs.
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_docs(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) > 3
    assert f"mdm {command}" in (REPO / "README.md").read_text()


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's import-linter contracts: the layers (standardise, rules and
    names below linkage, below the store, below bulk and real time, below the CLI and
    the service), mdm free of the web framework, and no import circle in any package."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]


def test_only_the_store_opens_a_transaction() -> None:
    """Every write in a transaction goes through ``mdm.store.transaction`` (committed
    at the end, rolled back on error): no module writes BEGIN, COMMIT or ROLLBACK."""
    import re

    words = re.compile(r"""["'](BEGIN|COMMIT|ROLLBACK)\b""")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("mdm", "api")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "mdm" / "store" / "transaction.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if words.search(line)
    ]
    assert found == []
