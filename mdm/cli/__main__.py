"""``python -m mdm.cli``: the command line."""

from mdm.cli import app

app()
