# ruff: noqa: I001 - the command modules are imported in the order `mdm --help` lists them
"""The mdm command line: what ETL scripts call. Keep these command forms stable.

One module per command group; importing them registers their commands on ``app``
(in this order, which is the order ``mdm --help`` lists them)."""

from __future__ import annotations

import sys

# Registration order is the order `mdm --help` lists the commands in.
from mdm.cli._common import DEFAULT_RULES, add_installed_commands, app
from mdm.cli import run, names, review, golden, access, operations  # noqa: F401

add_installed_commands(app)  # `serve`, from the service (api/serve.py)

__all__ = ["DEFAULT_RULES", "app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
