"""``python -m mdm``: the command line (the same as the ``mdm`` script)."""

from mdm.cli import app

app()
