"""The records a round's phases hand each other on the driver (`deepfake_arena.rounds.phases`).

Each phase takes and returns these, so a reader of `RoundRunner.play` sees what flows from one
phase to the next; none of them crosses Ray (those are in `deepfake_arena.rounds.payloads`).
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepfake_arena.rounds.payloads import GeneratorWeights, GenWeights, MadePart, Measured
from deepfake_arena.rounds.scored_sets import EvalSet

Row = dict[str, Any]  # one results row, as `deepfake_arena.results.write_results` takes it


@dataclass
class DetectorState:
    """A detector version between rounds."""

    weights: dict[str, np.ndarray] | None = None
    times_trained: int = 0
    trained_round: int = 0  # the last round whose data it was trained on; 0 = never trained
    # the strategy's state beyond the weights ("<part>/<key>": optimiser, replay buffer, ensemble)
    memory: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class StrainFakes:
    """One strain's fakes this round, merged from its make tasks: each split's uint8 fakes, the
    measures of the split it is scored on, the weights a task trained, the tasks' seconds added."""

    fakes: dict[str, np.ndarray]
    measured: Measured | None
    weights: GeneratorWeights | None
    seconds: float
    query_seconds: float

    @classmethod
    def merge(cls, parts: list[MadePart]) -> StrainFakes:
        """A strain's splits side by side; the measures and weights of whichever task has them."""
        fakes: dict[str, np.ndarray] = {}
        measured = weights = None
        for part in parts:
            fakes.update(part.fakes)
            measured = part.measured if part.measured is not None else measured
            weights = part.weights if part.weights is not None else weights
        return cls(
            fakes,
            measured,
            weights,
            seconds=sum(float(p.seconds) for p in parts),
            query_seconds=sum(float(p.query_seconds) for p in parts),
        )

    @property
    def measures(self) -> Measured:
        """The measures, which every strain made on eval or vault has."""
        if self.measured is None:
            raise ValueError("a strain's fakes were made without an eval or vault split: no quality")
        return self.measured


@dataclass(frozen=True)
class MadeFakes:
    """The make phase's outcome: the population's and the vault's fakes, the weights kept and
    newly trained, this generation's eval set and the reals the detectors retrain on (refs)."""

    fakes: list[StrainFakes]
    vault_fakes: list[StrainFakes]
    gen_weights: GenWeights
    new_weights: GenWeights
    ev: EvalSet
    sealed: EvalSet | None
    train_reals_ref: Any
    train_fakes_ref: Any
    grid_png: Future[bytes]


@dataclass(frozen=True)
class ScoredSets:
    """Everything scored this round, as the detectors see it (through the extractor, if any):
    object refs of this generation's eval set, the kept earlier generations, this generation
    re-encoded at each JPEG quality (`evaluation.jpeg_qualities`) and the vault (last), each set's
    miss flags, and the external sets' refs."""

    past: list[tuple[int, EvalSet]]
    eval_ref: Any
    past_refs: list[Any]
    misses: list[np.ndarray | None]
    ext_refs: list[Any]
    recoded: list[tuple[int, EvalSet]] = field(default_factory=list)


@dataclass(frozen=True)
class PhaseScores:
    """A scoring phase's results rows and the scores of this generation's eval set per detector."""

    rows: list[Row]
    probs: dict[str, np.ndarray]


@dataclass(frozen=True)
class Deployed:
    """The versions deployed in a round and the zero-day scores they gave (empty in round 1)."""

    versions: dict[str, DetectorState]
    names: list[str]
    scores: PhaseScores


@dataclass(frozen=True)
class Evolved:
    """Evolve's outcome: round r's population record, the next population, the next free id."""

    record: dict[str, Any]  # population.json's fields for round r, as JSON values
    strains: list[dict[str, Any]]  # as population.json keeps them
    next_id: int


@dataclass(frozen=True)
class Retrained:
    """The retrain phase's outcome: each detector's new state and its fit report (JSON values)."""

    detectors: dict[str, DetectorState]
    reports: dict[str, dict[str, Any] | None]
