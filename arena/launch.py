"""Starting and resuming runs: the run directory, Ray, signals, and the final plot."""

from __future__ import annotations

import errno
import json
import logging
import os
import platform
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from shlex import quote
from typing import Any

from deepfake_arena.errors import ArenaUserError, RunInterrupted
from deepfake_arena.preflight import check_address, check_memory, check_run_name, check_runs_dir
from deepfake_arena.results import SWEEP_FILE, read_sweep
from deepfake_arena.rounds.progress import Progress
from deepfake_arena.rounds.sweep import expand, is_sweep
from deepfake_arena.spec import (
    RunSpec,
    apply_overrides,
    parse_overrides,
    read_spec_file,
    resolved_json,
    validate_spec,
)
from deepfake_arena.store.atomic import write_text_atomic
from deepfake_arena.store.run_dir import RunStore
from deepfake_arena.store.run_info import git_commit, package_versions


def environment() -> dict[str, Any]:
    import torch

    import deepfake_arena as arena
    return {
        "arena": arena.__version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "created": time.time(),
        "versions": package_versions(),
        "git": git_commit(),  # None unless run from a git checkout
    }


def default_run_name(spec_path: Path, runs_dir: Path) -> str:
    stem = f"{spec_path.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    name, k = stem, 1
    while (runs_dir / name).exists():
        k += 1
        name = f"{stem}-{k}"
    return name


@contextmanager
def ray_session(address: str | None, specs: list[RunSpec], num_cpus: int | None = None) -> Iterator[None]:
    """Local Ray by default; a cluster with --address or RAY_ADDRESS. Shut down only what we started."""
    import ray

    started = False
    if not ray.is_initialized():
        check_address(address)  # an address that does not answer fails in seconds, in one line
        address = address or os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING}
        if address is None:  # a local Ray of our own; a cluster's settings are its own
            quiet_local_ray_auth()
            kwargs["include_dashboard"] = False
            need = max(max(s.resources.generator.num_cpus, s.resources.detector.num_cpus) for s in specs)
            kwargs["num_cpus"] = num_cpus or max(os.cpu_count() or 1, int(need + 0.999))
        ray.init(address=address, **kwargs)
        started = True
    try:
        for spec in specs:
            _check_resources(spec)
        yield
    finally:
        if started:
            ray.shutdown()


RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


class _DropAuthNotice(logging.Filter):
    """Drops Ray's "Token authentication is enabled for this Ray cluster" notice, which Ray (2.5x)
    logs at WARNING on every local `ray.init()` that leaves RAY_AUTH_MODE unset. Ray's choice (token
    authentication on) is kept; only the notice goes, so every run does not open with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled")


def quiet_local_ray_auth() -> None:
    """Install the filter on Ray's authentication logger (once)."""
    log = logging.getLogger(RAY_AUTH_LOGGER)
    if not any(isinstance(f, _DropAuthNotice) for f in log.filters):
        log.addFilter(_DropAuthNotice())


_NOTED: set[str] = set()  # warnings already shown by this process


def _check_resources(spec: RunSpec) -> None:
    import ray

    total = ray.cluster_resources()
    check_resources(spec, total)
    note = cpu_fallback_note(spec, total)
    if note and note not in _NOTED:  # once per process, however many sessions and members
        _NOTED.add(note)
        print(f"arena: warning: {note}", file=sys.stderr, flush=True)


def cpu_fallback_note(spec: RunSpec, total: dict[str, float]) -> str | None:
    """The one warning for `device: cuda` on a cluster without GPUs (its tasks fall back silently)."""
    if spec.device == "cuda" and total.get("GPU", 0) == 0:
        return "device: cuda but the Ray cluster has no GPUs; every task runs on the CPU"
    return None


def check_resources(spec: RunSpec, total: dict[str, float]) -> None:
    """A spec asking for more than the cluster has fails at once, not after hours of pending
    tasks; so does one whose tasks would never see the cluster's GPUs.

    Ray hides the GPUs from a task that reserves none (it sets CUDA_VISIBLE_DEVICES to empty), so
    `device: cuda` or `auto` with `num_gpus: 0` would train and generate on the CPU of a GPU node,
    each task only warning. On a cluster without GPUs `cuda` falls back to the CPU as documented.
    """
    gpus = total.get("GPU", 0)
    for role in ("generator", "detector"):
        res = getattr(spec.resources, role)
        if res.num_gpus > 0 and gpus < res.num_gpus:
            raise ArenaUserError(
                f"resources.{role}.num_gpus={res.num_gpus} but the cluster has {gpus:g} GPUs"
            )
        if spec.device != "cpu" and res.num_gpus == 0 and gpus > 0:
            raise ArenaUserError(
                f"device: {spec.device} but resources.{role}.num_gpus is 0, and Ray hides the cluster's "
                f"{gpus:g} GPUs from tasks that reserve none: set resources.{role}.num_gpus (a fraction "
                "such as 0.25 lets four tasks share a GPU), or device: cpu"
            )
        if res.memory is not None and res.memory > total.get("memory", 0):
            raise ArenaUserError(
                f"resources.{role}.memory={res.memory} bytes but the cluster has {total.get('memory', 0):.0f}"
            )
        if res.num_cpus > total.get("CPU", 0):
            raise ArenaUserError(
                f"resources.{role}.num_cpus={res.num_cpus} but the cluster has {total.get('CPU', 0):g} CPUs"
            )


class _Signalled(KeyboardInterrupt):
    """SIGINT or SIGTERM received by the driver (see `interruptible`)."""


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT become a KeyboardInterrupt, which _drive turns into RunInterrupted, so the
    CLI can exit 3 (resumable).

    It must be a KeyboardInterrupt: a signal that arrives while the driver waits inside `ray.get`
    runs this handler from Ray's compiled signal check, which passes a KeyboardInterrupt on as such
    but turns any other exception into a SystemError with a long traceback (exit 1).
    """

    def handler(signum: int, frame: object) -> None:
        raise _Signalled(signal.Signals(signum).name)

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
    num_cpus: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Create the run (or the sweep and its members) and drive it to its last round.

    Ray starts (and the cluster's resources are checked against the spec) before anything is
    written: a spec the cluster cannot serve leaves no run directory behind to clear up.
    """
    spec_path, runs_dir = Path(spec_path), Path(runs_dir)
    if name is not None:
        check_run_name(name)
    raw, text = read_spec_file(spec_path)
    raw = apply_overrides(raw, parse_overrides(overrides))
    check_runs_dir(runs_dir)
    run_dir = runs_dir / (name or default_run_name(spec_path, runs_dir))
    if not is_sweep(raw):
        spec = validate_spec(raw)
        check_memory(spec, address)
        RunStore.check_new(run_dir)  # fail at once, not after Ray's start-up
        with ray_session(address, [spec], num_cpus):
            store = RunStore.create(run_dir, text, resolved_json(spec), environment(), overrides)
            return _drive([(spec, store)], address, num_cpus, progress)
    members = expand(raw)
    for m in members:
        check_memory(m.spec, address, f"sweep member {m.name}: ")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ArenaUserError(
            f"sweep directory {run_dir} already exists; use `arena resume {quote(str(run_dir))}`"
        )
    with ray_session(address, [m.spec for m in members], num_cpus):
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "spec.yaml", text)
        listed = [{"name": m.name, "settings": m.settings} for m in members]
        index = {"members": listed, "overrides": overrides}
        write_text_atomic(run_dir / SWEEP_FILE, json.dumps(index, indent=2, sort_keys=True))
        env = environment()
        pairs = [
            (m.spec, RunStore.create(run_dir / m.name, text, resolved_json(m.spec), env, overrides))
            for m in members
        ]
        return _drive(pairs, address, num_cpus, progress, sweep_dir=run_dir)


def resume_run(
    run_dir: str | Path,
    overrides: list[str] | None = None,
    *,
    force: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Continue a run (or every unfinished member of a sweep) after its last committed round.

    A changed spec (overrides here, or a hand-edited spec.resolved.json) is refused unless
    `force`, which starts a new branch: a copy of the committed rounds under a new name.
    """
    run_dir = Path(run_dir)
    if (run_dir / SWEEP_FILE).is_file():
        if overrides:
            raise ArenaUserError("overrides on resume apply to one run, not to a whole sweep")
        members = read_sweep(run_dir)
        pairs = [_member_for_resume(RunStore(run_dir / m["name"])) for m in members]
        return _drive(pairs, address, num_cpus, progress, sweep_dir=run_dir)
    store = RunStore(run_dir)
    store.check_exists()
    store.format_version()  # a folder from a newer arena is refused before anything else
    note = store.spec_yaml_note()
    if note:
        print(f"arena: warning: {note}", file=sys.stderr, flush=True)
    stored = store.resolved_spec()
    spec = validate_spec(apply_overrides(stored, parse_overrides(overrides or [])))
    check_memory(spec, address)
    # Compare as models, not as text: a newer arena that adds a setting with a default still
    # resumes an older run; only a changed value (or a hand-edited file) is a changed spec.
    changed = spec != validate_spec(stored) or store.spec_was_edited()
    if changed and not force:
        raise ArenaUserError(
            f"the spec differs from the one {run_dir} was run with; "
            "pass --force to continue it as a new branch of the run"
        )
    if changed:
        store = store.branch(resolved_json(spec))
    return _drive([(spec, store)], address, num_cpus, progress)


def _member_for_resume(store: RunStore) -> tuple[RunSpec, RunStore]:
    store.check_exists()
    store.format_version()
    if store.spec_was_edited():
        raise ArenaUserError(f"{store.dir}: spec.resolved.json was changed after the run started")
    return validate_spec(store.resolved_spec()), store


def _drive(
    pairs: list[tuple[RunSpec, RunStore]],
    address: str | None,
    num_cpus: int | None,
    progress: Progress | None,
    sweep_dir: Path | None = None,
) -> Path:
    """Drive one run in this thread, or a sweep's members concurrently, one thread each."""
    specs = [spec for spec, _ in pairs]
    with ExitStack() as stack:
        todo = _runs_to_play(stack, pairs, progress, sweep_dir)
        if todo:
            where = str(sweep_dir or pairs[0][1].dir)
            try:
                with ray_session(address, specs, num_cpus), interruptible():  # after ray.init's own handler
                    _play_all(todo, None if sweep_dir else progress)
            except (RunInterrupted, KeyboardInterrupt):
                raise RunInterrupted(where) from None
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise RunInterrupted(where, f"disk full while writing ({exc})") from None
                raise
    done = {id(store) for _, store, _, _ in todo}
    for _, store in pairs:
        if id(store) not in done:  # committed before this call: its plots are redrawn here
            _final_plots(store, progress if not sweep_dir else None)
    out = sweep_dir or pairs[0][1].dir
    print(f"{'sweep' if sweep_dir else 'run'} directory: {out}", flush=True)
    return out


def _runs_to_play(
    stack: ExitStack, pairs: list[tuple[RunSpec, RunStore]], progress: Progress | None, sweep_dir: Path | None
) -> list[tuple[RunSpec, RunStore, Progress, int]]:
    """Lock and recover each run (the locks held by `stack`), say where it stands, and return
    those with rounds left to play: (spec, store, its progress, its last committed round)."""
    todo = []
    for spec, store in pairs:
        stack.enter_context(store.lock)
        last, notes = store.recover()
        label = store.dir.name if sweep_dir else ""
        stream = progress.stream if progress else None
        own = Progress(spec.rounds, last + 1, stream, label)
        prog = progress if (progress and not sweep_dir) else own
        prog.note(f"run directory: {store.dir}")
        for note in notes:
            prog.note(f"recovery: {note}")
        if last >= spec.rounds:
            prog.note(f"all {spec.rounds} rounds are already committed")
            continue
        if last:
            prog.note(f"resuming after round {last}")
        todo.append((spec, store, prog, last))
    return todo


def _play_all(todo: list[tuple[RunSpec, RunStore, Progress, int]], progress: Progress | None) -> None:
    """Play every run to its last round and draw its final plots.

    A sweep's members each play in a thread of their own and plot as soon as they finish, so one
    member's plotting overlaps the others' rounds instead of queueing after the slowest.
    """
    from deepfake_arena.rounds.loop import run_rounds

    if len(todo) == 1:
        spec, store, prog, last = todo[0]
        run_rounds(spec, store, store.dir.name, prog, last)
        _final_plots(store, progress)
        return
    errors: list[BaseException] = []

    def member(spec: RunSpec, store: RunStore, prog: Progress, last: int) -> None:
        try:
            run_rounds(spec, store, store.dir.name, prog, last)
            _final_plots(store, progress)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=member, args=t, daemon=True, name=t[1].dir.name) for t in todo]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():  # join in slices, so SIGINT/SIGTERM reach the main thread promptly
            t.join(0.5)
    if errors:
        raise errors[0]


def _final_plots(store: RunStore, progress: Progress | None) -> None:
    """The two plots every run ends with; `arena plot` and `arena report` draw the rest."""
    from deepfake_arena.analysis.plots.core import plot_cat_and_mouse, plot_heatmap
    from deepfake_arena.results import load

    df = load(store.dir)
    out = store.dir / "report"
    out.mkdir(exist_ok=True)
    say = progress.note if progress else print
    say(f"cat-and-mouse plot: {plot_cat_and_mouse(df, out)}")
    say(f"heatmap: {plot_heatmap(df, out)}")
    say(f"all plots: arena plot {store.dir}; HTML report: arena report {store.dir}")
