"""The ``guided`` section: how a person decides on each cycle's proposals (``runtime.mode:
guided``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GuidedConfig(BaseModel):
    """Deciding on proposals: how long a decision may take, what then, how many rejections."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    deadline_s: float | None = Field(
        None, gt=0, description="Seconds a decision may take (null: no deadline)"
    )
    on_deadline: Literal["wait", "approve", "reject", "pause"] = Field(
        "wait",
        description="At the deadline: keep waiting (no compute on unapproved settings), approve "
        "the proposals, reject them (the optimizer proposes again), or pause the run",
    )
    max_rejections: int = Field(
        3, ge=0, description="Rejections per cycle; after them the run waits for an approval"
    )
