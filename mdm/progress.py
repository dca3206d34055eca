"""Progress reporting for long steps, decoupled from how it is shown.

The stages of a reconciliation run are named once, here (:data:`RECONCILE_STAGES`):
the command line's bar and a full job's percent both count them. A stage's detail is
text for a person, and may carry numbers for a program (:class:`Detail`: how many
records, how far into the stage). :class:`JsonLinesProgress` writes each stage as one
JSON line, which is how a full job's child process tells the service where it is
(:func:`read_progress`): the two share this module, not a log format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

#: The stages of a reconciliation run, in the order they start.
RECONCILE_STAGES = ("read", "standardise", "prepare", "train", "predict", "cluster", "write")


class Detail(str):
    """A stage's detail: the text a person reads, with the numbers it states for a
    program: ``records`` (how many the stage works on) and ``done`` of ``total`` (how
    far into the stage). It is a ``str``, so a progress that only shows text needs
    nothing else."""

    records: int | None
    done: int | None
    total: int | None

    def __new__(
        cls,
        text: str,
        *,
        records: int | None = None,
        done: int | None = None,
        total: int | None = None,
    ) -> Detail:
        made = super().__new__(cls, text)
        made.records, made.done, made.total = records, done, total
        return made


class Progress(Protocol):
    """Receives the stages of a long job as they start."""

    def stage(self, name: str, detail: str = "") -> None:
        """A stage has started, or moved on (``detail`` says on what, e.g. how many
        records; a :class:`Detail` also says it in numbers)."""


class SilentProgress:
    """Reports nothing."""

    def stage(self, name: str, detail: str = "") -> None:
        return None


@dataclass(frozen=True)
class Step:
    """One line of a :class:`JsonLinesProgress`: a stage, or the error a run ended with."""

    stage: str | None = None
    detail: str = ""
    records: int | None = None
    done: int | None = None
    total: int | None = None
    error: str | None = None


class JsonLinesProgress:
    """Writes each stage as one JSON line (``stage``, ``detail``, ``records``, ``done``,
    ``total``) to ``stream``, flushed at once; :meth:`error` writes the message a run
    fails with (``error``)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def stage(self, name: str, detail: str = "") -> None:
        numbers = {
            key: getattr(detail, key, None) for key in ("records", "done", "total")
        }  # fmt: skip
        self._write({"stage": name, "detail": str(detail), **numbers})

    def error(self, message: str) -> None:
        self._write({"error": message})

    def _write(self, line: dict[str, Any]) -> None:
        self.stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.stream.flush()


def read_progress(path: Path) -> list[Step]:
    """The steps a :class:`JsonLinesProgress` wrote to ``path`` so far, in order (a line
    still being written is left for the next read)."""
    steps: list[Step] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return steps
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue  # the child is writing it now
        steps.append(Step(**{k: v for k, v in data.items() if k in Step.__dataclass_fields__}))
    return steps
