"""Layering and documentation checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mdm.cli import app

REPO = Path(__file__).resolve().parents[1]


def test_mdm_does_not_import_fastapi() -> None:
    code = "import sys, mdm, mdm.jobs, mdm.cli; print('fastapi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["reconcile", "export", "evaluate", "model", "names", "demo"])
def test_every_command_has_help_and_docs(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) > 3
    assert f"mdm {command}" in (REPO / "README.md").read_text() or command == "demo"
