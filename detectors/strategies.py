"""Retraining strategies: what a detector does with a round's training data, and what it remembers.

Each strategy is a function registered by name in :data:`STRATEGIES`; the arena calls
:func:`retrain` once per detector per round and counts ``times_trained`` itself. Pure compute.

State between rounds beyond the weights is a *memory*: a flat ``dict[str, Tensor]`` whose keys are
``"<part>/<key>"``. The strategy receives the previous round's memory and returns the new one; the
arena persists each part as ``detectors/<name>.<part>.safetensors`` next to the weights and hands
it back on resume, so a resumed run retrains exactly as an uninterrupted one. Parts:

- ``optim``: the AdamW moments and step counts (``finetune``, ``replay``, ``ensemble``): a
  continued optimiser, saved with every version, so a crash costs nothing but the lost round.
- ``replay``: the reservoir of past rounds' reals and fakes (:mod:`deepfake_arena.detectors.replay`).
- ``ensemble``: the previous versions' weights that the deployed ensemble averages.

The *training mode* is independent of the strategy: ``supervised`` trains on the round's reals
and the generators' fakes; ``sbi`` (:mod:`deepfake_arena.detectors.sbi`) ignores the given fakes and trains on
reals vs self-blended pseudo-fakes made from them, with any architecture and any strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from deepfake_arena.detectors.base import Detector
from deepfake_arena.detectors.registry import validate_config
from deepfake_arena.detectors.replay import reservoir_update
from deepfake_arena.detectors.sbi import SelfBlend, SelfBlendConfig
from deepfake_arena.detectors.train_config import StrategyOptions
from deepfake_arena.detectors.training import FitReport, PseudoFakes, TrainConfig
from deepfake_arena.registry import Registry
from deepfake_arena.seeding import derive_seed, torch_generator

Memory = dict[str, torch.Tensor]
OPTIM, REPLAY, ENSEMBLE = "optim", "replay", "ensemble"
SCORING_PARTS = (ENSEMBLE,)  # the memory parts a deployed version needs to score


@dataclass(frozen=True)
class RetrainContext:
    """Everything a strategy knows about the round besides the data and the memory."""

    round: int
    times_trained: int
    scratch: TrainConfig
    finetune: TrainConfig
    seed: int
    options: StrategyOptions = StrategyOptions()
    pseudo_fakes: PseudoFakes | None = None
    pretrained: bool = False  # started from imported weights: its first training is a finetune

    @property
    def fit_seed(self) -> int:
        return derive_seed(self.seed, self.round, "detector-fit")


@dataclass(frozen=True)
class RetrainResult:
    """What a strategy did: its fit report (None when it did not train, so the weights are
    unchanged) and the memory to carry into the next round."""

    report: FitReport | None
    memory: Memory = field(default_factory=dict)


Strategy = Callable[[Detector, torch.Tensor, "torch.Tensor | None", Memory, RetrainContext], RetrainResult]
STRATEGIES: Registry[Strategy] = Registry("retraining strategy")
TRAININGS: Registry[Callable[[Mapping[str, Any]], PseudoFakes | None]] = Registry("training mode")


# ------------------------------------------------------------------------------------ memory


def memory_part(memory: Mapping[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
    """The tensors of one part, keys without the ``"<part>/"`` prefix."""
    prefix = part + "/"
    return {k[len(prefix) :]: v for k, v in memory.items() if k.startswith(prefix)}


def with_part(memory: Mapping[str, torch.Tensor], part: str, tensors: Mapping[str, torch.Tensor]) -> Memory:
    """``memory`` with ``part`` replaced by ``tensors`` (removed when empty)."""
    prefix = part + "/"
    out = {k: v for k, v in memory.items() if not k.startswith(prefix)}
    out.update({prefix + k: v for k, v in tensors.items()})
    return out


def _split_members(tensors: Mapping[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    members: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, _, name = key.partition(".")
        members.setdefault(int(index), {})[name] = value
    return [members[i] for i in sorted(members)]


def deployed_members(
    weights: Mapping[str, torch.Tensor], memory: Mapping[str, torch.Tensor]
) -> list[Mapping[str, torch.Tensor]]:
    """The state dicts whose scores a deployed version averages: its own weights, then any
    earlier versions kept by ``ensemble`` (newest first)."""
    return [weights, *_split_members(memory_part(memory, ENSEMBLE))]


@torch.inference_mode()
def score_version(
    detector: Detector,
    weights: Mapping[str, torch.Tensor],
    memory: Mapping[str, torch.Tensor],
    images_u8: torch.Tensor,
) -> torch.Tensor:
    """P(fake) of a saved version: the mean probability over :func:`deployed_members`.

    Leaves the detector holding the last member's weights.

    Shape:
        images_u8: (N, 3, H, W) uint8. returns: (N,) float32 on the CPU.
    """
    members = deployed_members(weights, memory)
    total = torch.zeros(images_u8.shape[0])
    for state in members:
        detector.load_state_dict(state)
        total += detector.score_uint8(images_u8)
    return total / len(members)


# ------------------------------------------------------------------------------------ strategies


def _scratch_fit(detector: Detector, reals, fakes, ctx: RetrainContext) -> FitReport:
    detector.reset(derive_seed(ctx.seed, ctx.round, "detector-init"))
    return detector.fit(reals, fakes, ctx.scratch, seed=ctx.fit_seed, pseudo_fakes=ctx.pseudo_fakes)


def _continued_fit(
    detector: Detector, reals, fakes, memory: Memory, ctx: RetrainContext
) -> tuple[FitReport, Memory]:
    """Continue from the current weights and the saved optimiser; the first training uses the
    scratch budget (a fresh detector needs the full budget), later ones the finetune budget."""
    first = ctx.times_trained == 0 and not ctx.pretrained
    if not first:
        detector.load_optimizer_state(memory_part(memory, OPTIM))
    report = detector.fit(
        reals,
        fakes,
        ctx.scratch if first else ctx.finetune,
        seed=ctx.fit_seed,
        continue_optimizer=not first,
        pseudo_fakes=ctx.pseudo_fakes,
    )
    return report, with_part(memory, OPTIM, detector.optimizer_state())


@STRATEGIES.register("scratch")
def _scratch(detector, reals, fakes, memory, ctx) -> RetrainResult:
    """Forget everything: re-initialise from a round-derived seed and train with the scratch budget."""
    return RetrainResult(_scratch_fit(detector, reals, fakes, ctx), {})


@STRATEGIES.register("finetune")
def _finetune(detector, reals, fakes, memory, ctx) -> RetrainResult:
    """Continue from the current weights and optimiser with the finetune budget."""
    report, memory = _continued_fit(detector, reals, fakes, memory, ctx)
    return RetrainResult(report, memory)


@STRATEGIES.register("frozen")
def _frozen(detector, reals, fakes, memory, ctx) -> RetrainResult:
    """Deployed once, never updated: train like ``scratch`` on the first call, then do nothing;
    a detector that imported published weights never trains."""
    if ctx.times_trained > 0 or ctx.pretrained:
        return RetrainResult(None, dict(memory))
    return RetrainResult(_scratch_fit(detector, reals, fakes, ctx), {})


@STRATEGIES.register("replay")
def _replay(detector, reals, fakes, memory, ctx) -> RetrainResult:
    """Finetune on this round's data plus a reservoir of every earlier round's (rehearsal against
    forgetting), then offer this round's images to the reservoir (``replay_size`` per class)."""
    kept = memory_part(memory, REPLAY)
    seen = kept.get("seen", torch.zeros(2, dtype=torch.int64)).tolist()
    old_reals, old_fakes = kept.get("reals"), kept.get("fakes")
    train_reals = reals if old_reals is None else torch.cat([reals, old_reals.to(reals.device)])
    train_fakes = fakes
    if fakes is not None and old_fakes is not None:
        train_fakes = torch.cat([fakes, old_fakes.to(fakes.device)])
    report, memory = _continued_fit(detector, train_reals, train_fakes, memory, ctx)
    gen = torch_generator(ctx.seed, ctx.round, "replay")
    size = ctx.options.replay_size
    new_reals, seen[0] = reservoir_update(old_reals, seen[0], reals.cpu(), size, gen)
    buffer = {"reals": new_reals}
    if fakes is not None:
        buffer["fakes"], seen[1] = reservoir_update(old_fakes, seen[1], fakes.cpu(), size, gen)
    elif old_fakes is not None:
        buffer["fakes"] = old_fakes
    buffer["seen"] = torch.tensor(seen, dtype=torch.int64)
    return RetrainResult(report, with_part(memory, REPLAY, buffer))


@STRATEGIES.register("ensemble")
def _ensemble(detector, reals, fakes, memory, ctx) -> RetrainResult:
    """Finetune, and deploy the average of the newest ``ensemble_k`` versions: the previous
    versions' weights are kept in the memory (newest first) and averaged when scoring."""
    previous = detector.state_dict() if ctx.times_trained > 0 else None
    report, memory = _continued_fit(detector, reals, fakes, memory, ctx)
    members = _split_members(memory_part(memory, ENSEMBLE))
    if previous is not None:
        members = [previous, *members]
    members = members[: ctx.options.ensemble_k - 1]
    tensors = {f"{i}.{k}": v for i, state in enumerate(members) for k, v in state.items()}
    return RetrainResult(report, with_part(memory, ENSEMBLE, tensors))


# ------------------------------------------------------------------------------------ training modes


@TRAININGS.register("supervised")
def _supervised(config: Mapping[str, Any]) -> PseudoFakes | None:
    """Train on the round's reals and the generators' fakes."""
    if config:
        raise ValueError(f"training 'supervised' takes no config, got keys {sorted(config)}")
    return None


@TRAININGS.register("sbi")
def _sbi(config: Mapping[str, Any]) -> PseudoFakes | None:
    """Reals vs self-blended pseudo-fakes; the generators' fakes are never used."""
    return SelfBlend(validate_config(SelfBlendConfig, config, "training 'sbi'"))


def make_pseudo_fakes(training: str, config: Mapping[str, Any] | None = None) -> PseudoFakes | None:
    """The pseudo-fake maker of a training mode (None for ``supervised``); validates its config."""
    return TRAININGS.get(training)(dict(config or {}))


def retrain(
    strategy: str,
    detector: Detector,
    reals_u8: torch.Tensor,
    fakes_u8: torch.Tensor,
    *,
    round: int,
    times_trained: int,
    scratch: TrainConfig,
    finetune: TrainConfig,
    seed: int,
    memory: Mapping[str, torch.Tensor] | None = None,
    options: StrategyOptions | None = None,
    training: str = "supervised",
    training_config: Mapping[str, Any] | None = None,
    pretrained: bool = False,
) -> RetrainResult:
    """Retrain ``detector`` in place on the round's uint8 reals and fakes by ``strategy``.

    Args:
        round: the arena round (seeds derive from ``(seed, round)``).
        times_trained: how many earlier calls trained this detector (0 on its first).
        scratch, finetune: the two step budgets; which applies depends on the strategy.
        memory: what the previous call returned (None or {} on the first call).
        options: replay and ensemble sizes.
        training: ``supervised`` or ``sbi`` (then ``fakes_u8`` is ignored).
        pretrained: the detector started from imported weights (``frozen`` never trains it;
            the continuing strategies use the finetune budget from their first call).
    Returns:
        The fit report (None when the strategy did not train: ``frozen`` after its first call)
        and the memory for the next call.
    """
    if round < 0 or times_trained < 0:
        raise ValueError(f"round and times_trained must be >= 0, got {round}, {times_trained}")
    run = STRATEGIES.get(strategy)
    pseudo = make_pseudo_fakes(training, training_config)
    ctx = RetrainContext(
        round=round,
        times_trained=times_trained,
        scratch=scratch,
        finetune=finetune,
        seed=seed,
        options=options or StrategyOptions(),
        pseudo_fakes=pseudo,
        pretrained=pretrained,
    )
    return run(detector, reals_u8, None if pseudo is not None else fakes_u8, dict(memory or {}), ctx)
