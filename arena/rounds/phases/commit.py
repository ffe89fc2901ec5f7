"""Commit: the round's files written into a temporary folder and renamed into place in one step
(`deepfake_arena.store.run_dir.RunStore.commit_round`), so a crash leaves the last round whole."""

from __future__ import annotations

from pathlib import Path

from deepfake_arena.faults import driver_fault
from deepfake_arena.results import RESULTS_FILE, write_results
from deepfake_arena.rounds import extraction
from deepfake_arena.rounds.generator_side import save_weights
from deepfake_arena.rounds.records import Evolved, MadeFakes, Retrained, Row
from deepfake_arena.rounds.scored_sets import kept_eval_set
from deepfake_arena.spec import RunSpec
from deepfake_arena.store.round_files import (
    EVAL_SET,
    POPULATION,
    save_detector,
    save_eval_set,
    save_json,
    save_memory,
)
from deepfake_arena.store.run_dir import RunStore


def save_detectors(tmp: Path, spec: RunSpec, retrained: Retrained) -> None:
    """Each detector's new version, its memory parts beside it, with what it is in the metadata."""
    for d in spec.detectors:
        ds = retrained.detectors[d.name]
        assert ds.weights is not None, "every detector trains in round 1"
        meta = {
            "arch": d.arch,
            "arch_config": d.arch_config,
            "strategy": d.strategy,
            "training": d.training,
            "resolution": spec.world.resolution,
            "times_trained": ds.times_trained,
            "trained_round": ds.trained_round,
            "memory_parts": save_memory(tmp / "detectors", d.name, ds.memory),
        }
        save_detector(tmp / "detectors" / f"{d.name}.safetensors", ds.weights, meta)


def write_round(
    tmp: Path,
    spec: RunSpec,
    rows: list[Row],
    made: MadeFakes,
    retrained: Retrained,
    evolved: Evolved,
    new_extractor: extraction.Extractor | None,
) -> None:
    """Every file of a round but its timings, into the round's temporary folder `tmp`."""
    write_results(tmp / RESULTS_FILE, rows)
    kept = kept_eval_set(made.ev, spec.evaluation.past_budget)
    save_eval_set(tmp / EVAL_SET, kept.images, kept.labels, kept.strain_index, kept.strains)
    save_detectors(tmp, spec, retrained)
    save_json(
        tmp / POPULATION, {**evolved.record, "next": evolved.strains, "next_strain_id": evolved.next_id}
    )
    save_weights(tmp, made.new_weights)  # generators/<strain>.safetensors, trained this round
    save_json(tmp / "training.json", retrained.reports)
    if new_extractor is not None:  # trained this round: kept with it, verified on read
        extraction.save(tmp / extraction.FILE, new_extractor)
        save_json(tmp / extraction.REPORT, new_extractor.report)
    (tmp / "samples.png").write_bytes(made.grid_png.result())


def commit(store: RunStore, r: int, tmp: Path, timings: dict[str, float]) -> None:
    """The round's timings written last, then the folder committed (with the driver's fault hook)."""
    save_json(tmp / "timings.json", timings)
    store.commit_round(r, tmp, fault=driver_fault)
