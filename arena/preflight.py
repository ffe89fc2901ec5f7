"""Checks made before Ray starts, so that a run that cannot work fails in one line within a second
and leaves nothing behind: the run name, the folder the run goes in, and whether the images a spec
asks for per round fit in this machine's memory at all.

Bounds on each count are in deepfake_arena.spec (MAX_FACES, ...); this module estimates what the counts
multiply to. The estimate is deliberately a floor (only the images, as float32), so a refusal is
certain to be right; a spec under it can still need more.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.spec import RunSpec

# One path component of letters, digits and . _ = + -, not starting with a dot or dash: what a
# sweep member's name already is. Anything else could leave --runs-dir or surprise a shell.
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,199}$")


def check_run_name(name: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise ArenaUserError(
            f"run name {name[:80]!r} must be one folder name: letters, digits and . _ = + - "
            "(not starting with . or -), at most 200 characters"
        )


def check_runs_dir(runs_dir: Path) -> None:
    """The folder runs go in must be a directory (or creatable) that this user can write."""
    if runs_dir.exists() and not runs_dir.is_dir():
        raise ArenaUserError(f"--runs-dir {runs_dir} is not a directory")
    parent = runs_dir
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ArenaUserError(f"--runs-dir {runs_dir}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ArenaUserError(f"--runs-dir {runs_dir}: {parent} is not writable by this user")


def round_image_bytes(spec: RunSpec) -> int:
    """A floor on the bytes of images one round holds at once (float32, 3 channels): real faces,
    every strain's fakes, the vault, and the kept faces of earlier rounds that phase `past` scores."""
    w, pop = spec.world, spec.population
    strains = pop.size + sum(i.strains for i in pop.innovation)
    reals = w.reals_per_round.train + w.reals_per_round.eval
    fakes = strains * (pop.fakes_per_strain.train + pop.fakes_per_strain.eval)
    vault = spec.vault.reals + spec.vault.fakes_per_strain * spec.vault.strain_count
    past = spec.rounds * spec.evaluation.past_budget * (1 + strains)
    return (reals + fakes + vault + past) * 3 * w.resolution * w.resolution * 4


def machine_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def check_memory(spec: RunSpec, address: str | None, where: str = "") -> None:
    """Refuse, before Ray starts, a spec whose images alone exceed this machine's memory (a local
    Ray runs every task here). On a cluster (--address or RAY_ADDRESS) the counts' bounds apply."""
    if address or os.environ.get("RAY_ADDRESS"):
        return
    need, have = round_image_bytes(spec), machine_memory()
    if have and need > have:
        gib = 1 << 30
        raise ArenaUserError(
            f"{where}the spec's images alone need about {need / gib:.1f} GiB per round and this machine has "
            f"{have / gib:.1f} GiB: lower world.reals_per_round, population.size, "
            "population.fakes_per_strain, world.resolution or evaluation.past_budget"
        )


ADDRESS_TIMEOUT_S = 10.0  # how long a Ray address may take to accept a connection


def check_address(address: str | None, timeout: float = ADDRESS_TIMEOUT_S) -> None:
    """A Ray address of the form [ray://]host:port must accept a TCP connection within `timeout`
    seconds; otherwise ray.init would wait for many minutes, deaf to Ctrl-C. `auto`, `local` and
    unset addresses are Ray's own business."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ArenaUserError(f"Ray address {address!r} is not of the form host:port (or ray://host:port)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ArenaUserError(
            f"the Ray cluster at {address} does not answer ({exc.strerror or exc}; waited at most "
            f"{timeout:g} s): is it running, and is the address right?"
        ) from None
