"""``python -m mdm``: the command line (the same as the ``mdm`` script)."""

from mdm.cli import app

if __name__ == "__main__":  # not when a worker process (mdm.bulk.load) starts
    app()
