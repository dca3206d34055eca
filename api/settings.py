"""Settings of the service: passed to ``create_app``, never read at import."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

REPO = Path(__file__).resolve().parents[1]


class Settings(BaseModel):
    """What the service needs to know to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db: Path = Field(description="The DuckDB store file this process owns.")
    rules: Path = Field(
        default=REPO / "rules" / "customer.match.yaml",
        description="Match rules (how name variants are learned, thresholds).",
    )
    max_page_size: int = Field(default=1000, ge=1, description="Most rows one list returns.")
    max_batch: int = Field(default=1000, ge=1, description="Most records one upsert call takes.")
    apply_delay: float = Field(
        default=0.5,
        ge=0,
        description="Seconds a journaled write may wait before it is written into the tables "
        "(reads never see it missing: they wait for it).",
    )

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from ``MDM_DB`` (required), ``MDM_RULES`` and ``MDM_APPLY_DELAY``."""
        db = os.environ.get("MDM_DB")
        if not db:
            raise RuntimeError("set MDM_DB to the store file, e.g. MDM_DB=out/mdm.duckdb")
        values: dict = {"db": Path(db)}
        if os.environ.get("MDM_RULES"):
            values["rules"] = Path(os.environ["MDM_RULES"])
        if os.environ.get("MDM_APPLY_DELAY"):
            values["apply_delay"] = float(os.environ["MDM_APPLY_DELAY"])
        return cls(**values)
