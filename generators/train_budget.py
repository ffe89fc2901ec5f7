"""How much a learning family may train a strain, defined once: the families read it and the run
spec embeds it (`population.training.<family>`). Torch-free, so validating a spec does not import
torch."""

from __future__ import annotations

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class TrainBudget:
    """A learning family's training budget (from the spec, so a CPU round stays small).

    steps: optimiser steps for a strain trained from scratch; finetune_steps: steps for a child
    warm-started from its parent's weights (0 = inherit them unchanged); resolution: side of the
    aligned face crops the network works on; faces_per_identity: real faces per identity rendered
    for training; batch_size and lr: the optimiser's. The defaults are the spec's.
    """

    steps: int = Field(
        default=60, ge=1, le=10_000_000, description="optimiser steps for a strain trained from scratch"
    )
    finetune_steps: int = Field(
        default=0, ge=0, le=10_000_000, description="steps for a child warm-started from its parent"
    )
    resolution: int = Field(default=32, ge=16, le=256, multiple_of=8, description="aligned crop side, px")
    batch_size: int = Field(default=8, ge=1, le=65_536)
    lr: float = Field(default=2e-3, gt=0)
    faces_per_identity: int = Field(
        default=2, ge=1, le=1_000_000, description="real faces per identity to train on"
    )
