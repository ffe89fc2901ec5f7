"""Hand-built results tables and run directories with known answers, for the analysis, plot and
report tests (no simulation, no torch).

The designed sawtooth, per seed s (delta = 0.1 * s lowers the zero-day score of `ft`):

- `ft` (finetune), versions 1..R: post 0.9; zero-day (version r-1 on generation r) 0.4 - delta;
  past: version r on generation j < r scores 0.9 - 0.1 (r - j), so the last version forgets
  0.1 (R - j) of generation j.
- `fz` (frozen), version 1 only: score at gap k = FROZEN[k] on the full evaluation set (zero-day
  and post rows of round k+1), FROZEN[k] - 0.01 on the kept subset (past rows).
- sealed (vault) rows when asked: `ft` 0.6 each round, `fz` 0.5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_arena.results import ALL, write_results
from deepfake_arena.store.round_files import save_eval_set, save_json
from deepfake_arena.store.run_dir import RunStore

ROUNDS = 5
FROZEN = [0.8, 0.7, 0.5, 0.3, 0.2]
METRICS = ("auc", "tpr_at_1fpr")


def row(**kw: object) -> dict[str, object]:
    base: dict[str, object] = dict(
        run="r",
        seed=0,
        round=1,
        detector="ft",
        arch="meso4",
        strategy="finetune",
        detector_round=1,
        strain=ALL,
        family=ALL,
        generation=1,
        phase="post",
        metric="auc",
        value=0.9,
        ci_low=0.85,
        ci_high=0.95,
        n=100,
        method=None,
    )
    base.update(kw)
    return base


def sawtooth_rows(
    run: str = "r", seed: int = 0, rounds: int = ROUNDS, sealed: bool = False
) -> list[dict[str, object]]:
    delta = 0.1 * seed
    rows: list[dict[str, object]] = []
    ft = dict(run=run, seed=seed, detector="ft", strategy="finetune")
    fz = dict(run=run, seed=seed, detector="fz", strategy="frozen", detector_round=1)
    for metric in METRICS:
        for r in range(1, rounds + 1):
            m = dict(metric=metric, round=r)
            rows.append(row(**ft, **m, detector_round=r, generation=r, phase="post", value=0.9))
            rows.append(row(**fz, **m, generation=r, phase="post", value=FROZEN[r - 1]))
            if r > 1:
                rows.append(
                    row(**ft, **m, detector_round=r - 1, generation=r, phase="zero_day", value=0.4 - delta)
                )
                rows.append(row(**fz, **m, generation=r, phase="zero_day", value=FROZEN[r - 1]))
            for j in range(1, r):
                rows.append(
                    row(**ft, **m, detector_round=r, generation=j, phase="past", value=0.9 - 0.1 * (r - j))
                )
                rows.append(row(**fz, **m, generation=j, phase="past", value=FROZEN[j - 1] - 0.01, n=40))
            if sealed:
                rows.append(row(**ft, **m, detector_round=r, generation=r, phase="sealed", value=0.6))
                rows.append(row(**fz, **m, generation=r, phase="sealed", value=0.5))
    return rows


def sawtooth(**kw: object) -> pd.DataFrame:
    return pd.DataFrame(sawtooth_rows(**kw))  # type: ignore[arg-type]


def population(r: int) -> list[dict[str, object]]:
    """Round r's strains: blend founders b1, b2 (b1 elite throughout), one new blend child per
    round, and from round 3 the autoencoder family (a1, then its children)."""
    strains = [
        dict(id="b1", family="blend", parents=[], born=1, fitness=0.2 + 0.05 * r),
        dict(
            id="b2" if r == 1 else f"b{r + 1}",
            family="blend",
            parents=[] if r == 1 else ["b1"],
            born=r,
            fitness=0.1,
        ),
    ]
    if r >= 3:
        strains.append(
            dict(
                id="a1" if r == 3 else f"a{r - 2}",
                family="autoencoder",
                parents=[] if r == 3 else [f"a{r - 3}"],
                born=r,
                fitness=0.6,
            )
        )
    return [
        {
            "id": s["id"],
            "genome": {"family": s["family"], "genes": {}},
            "parents": s["parents"],
            "born_round": s["born"],
            "mutations": [],
            "evasion": s["fitness"],
            "quality": 1.0,
            "fitness": s["fitness"],
        }
        for s in strains
    ]


def make_run(
    root: Path,
    name: str,
    seed: int = 0,
    rounds: int = ROUNDS,
    sealed: bool = False,
    world: dict[str, object] | None = None,
    extra_spec: dict[str, object] | None = None,
    extractor: bool = False,
    extra_rows: list[dict[str, object]] | None = None,
) -> Path:
    """A committed run directory with the sawtooth results, populations and tiny eval sets (and,
    with `extractor`, the face extractor's miss rows: 1 in 10 fakes, 1 in 20 reals)."""
    spec = {
        "seed": seed,
        "rounds": rounds,
        "world": world or {"kind": "synthetic", "resolution": 16},
        **(extra_spec or {}),
    }
    store = RunStore.create(root / name, "seed: 0\n", json.dumps(spec), {})
    rows = sawtooth_rows(run=name, seed=seed, rounds=rounds, sealed=sealed) + list(extra_rows or [])
    if extractor:
        for r in range(1, rounds + 1):
            at = dict(run=name, seed=seed, round=r, generation=r, detector_round=r, phase="post")
            rows.append(row(**at, metric="extractor_miss", value=0.1, n=40))
            rows.append(row(**at, metric="extractor_miss_real", value=0.05, n=20))
    rng = np.random.default_rng(seed)
    for r in range(1, rounds + 1):
        tmp = store.begin_round(r)
        write_results(tmp / "results.parquet", [x for x in rows if x["round"] == r])
        strains = population(r)
        save_json(tmp / "population.json", {"round": r, "strains": strains, "next": [], "next_strain_id": 0})
        n_real, n_fake = 4, 2
        labels = np.array([0] * n_real + [1] * n_fake * len(strains), np.uint8)
        index = np.array([-1] * n_real + [i for i in range(len(strains)) for _ in range(n_fake)], np.int32)
        images = rng.integers(0, 256, size=(len(labels), 3, 16, 16), dtype=np.uint8)
        meta = [{"id": s["id"], "family": s["genome"]["family"]} for s in strains]  # type: ignore[index]
        save_eval_set(tmp / "eval_set.safetensors", images, labels, index, meta)
        store.commit_round(r, tmp)
    return store.dir
