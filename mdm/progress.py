"""Progress reporting for long steps, decoupled from how it is shown."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives the stages of a long job as they start."""

    def stage(self, name: str, detail: str = "") -> None:
        """A stage has started (``detail`` says on what, e.g. how many records)."""


class SilentProgress:
    """Reports nothing."""

    def stage(self, name: str, detail: str = "") -> None:
        return None
