"""Starting and resuming runs: the run directory, Ray, signals, and the final plot."""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arena.errors import ArenaUserError, RunInterrupted
from arena.progress import Progress
from arena.spec import RunSpec, load_spec, resolved_json, validate_spec
from arena.store import RunStore


def environment() -> dict[str, Any]:
    import torch

    import arena

    return {
        "arena": arena.__version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "created": time.time(),
    }


def default_run_name(spec_path: Path, runs_dir: Path) -> str:
    stem = f"{spec_path.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    name, k = stem, 1
    while (runs_dir / name).exists():
        k += 1
        name = f"{stem}-{k}"
    return name


@contextmanager
def ray_session(address: str | None, spec: RunSpec) -> Iterator[None]:
    """Local Ray by default; a cluster with --address or RAY_ADDRESS. Shut down only what we started."""
    import logging

    import ray

    started = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if address is None:
            need = max(spec.resources.generator.num_cpus, spec.resources.detector.num_cpus)
            kwargs["num_cpus"] = max(os.cpu_count() or 1, int(need + 0.999))
        ray.init(address=address, **kwargs)
        started = True
    try:
        _check_resources(spec)
        yield
    finally:
        if started:
            ray.shutdown()


def _check_resources(spec: RunSpec) -> None:
    import ray

    total = ray.cluster_resources()
    for role in ("generator", "detector"):
        res = getattr(spec.resources, role)
        if res.num_gpus > 0 and total.get("GPU", 0) < res.num_gpus:
            raise ArenaUserError(
                f"resources.{role}.num_gpus={res.num_gpus} but the Ray cluster has {total.get('GPU', 0)} GPUs"
            )
        if res.num_cpus > total.get("CPU", 0):
            raise ArenaUserError(
                f"resources.{role}.num_cpus={res.num_cpus} but the Ray cluster has {total.get('CPU', 0)} CPUs"
            )


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT become RunInterrupted, so the CLI can exit 3 (resumable)."""

    def handler(signum: int, frame: object) -> None:
        raise RunInterrupted(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def start_run(
    spec_path: str | Path,
    overrides: list[str],
    *,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    address: str | None = None,
    progress: Progress | None = None,
) -> Path:
    spec_path, runs_dir = Path(spec_path), Path(runs_dir)
    spec, text = load_spec(spec_path, overrides)
    run_dir = runs_dir / (name or default_run_name(spec_path, runs_dir))
    store = RunStore.create(run_dir, text, resolved_json(spec), environment())
    return _drive(spec, store, address, progress)


def resume_run(run_dir: str | Path, *, address: str | None = None, progress: Progress | None = None) -> Path:
    store = RunStore(run_dir)
    store.check_exists()
    spec = validate_spec(json.loads(store.resolved_spec_text()))
    return _drive(spec, store, address, progress)


def _drive(spec: RunSpec, store: RunStore, address: str | None, progress: Progress | None) -> Path:
    from arena.loop import run_rounds
    from arena.plots import plot_run

    with store.lock:
        last, notes = store.recover()
        progress = progress or Progress(spec.rounds, last + 1)
        progress.note(f"run directory: {store.dir}")
        for note in notes:
            progress.note(f"recovery: {note}")
        if last >= spec.rounds:
            progress.note(f"all {spec.rounds} rounds are already committed")
        else:
            if last:
                progress.note(f"resuming after round {last}")
            try:
                with (
                    ray_session(address, spec),
                    interruptible(),
                ):  # after ray.init, which sets its own SIGTERM handler
                    run_rounds(spec, store, store.dir.name, progress, last)
            except (RunInterrupted, KeyboardInterrupt):
                raise RunInterrupted(str(store.dir)) from None
    paths = plot_run(store.dir)
    progress.note(f"cat-and-mouse plot: {paths[0]}")
    progress.note(f"heatmap: {paths[1]}")
    progress.note(f"run directory: {store.dir}")
    return store.dir
