"""What mdm writes holds personal data: its files are its owner's alone (0600, folders
0700), whatever the umask of the shell that started it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def test_the_store_and_its_backups_are_private(sample_files: list[Path], tmp_path: Path) -> None:
    db = tmp_path / "out" / "mdm.duckdb"
    env = {**os.environ}
    loose = "umask 022; "
    command = " ".join(
        [sys.executable, "-m", "mdm", "reconcile", *map(str, sample_files), "--db", str(db)]
    )
    done = subprocess.run(["sh", "-c", loose + command], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    backup = tmp_path / "backups" / "b.duckdb"
    command = f"{sys.executable} -m mdm backup --out {backup} --db {db}"
    done = subprocess.run(["sh", "-c", loose + command], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    made = list(tmp_path.rglob("*"))
    assert db in made and backup in made
    for path in made:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
