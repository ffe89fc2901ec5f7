"""Generated inputs at the CLI's entry points (issue 25, 'make it stay fixed'): specs, override
strings, argument lists and damaged run folders. Every case must end with exit code 0, 1 or 3 and
no exception escaping `main` (which would be a traceback), touch no file outside its run folder,
and stay within a time and memory bound.

Ray never starts: `ray_session` is replaced by a guard that stops a case whose spec would reach
Ray (such a spec passed every check made before Ray, which is what these tests are about).
Hypothesis runs derandomized, so the cases are the same on every run; about 1,200 in all, a few
minutes on 2 cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepfake_arena.launch
from deepfake_arena.cli import main
from deepfake_arena.errors import ArenaUserError
from deepfake_arena.results import load
from deepfake_arena.spec import load_spec, resolved_json
from tests.arena.fake_runs import make_run

QUICKSTART = Path(__file__).resolve().parents[1] / "runs" / "quickstart.yaml"
BASE = yaml.safe_load(QUICKSTART.read_text())
SECONDS_PER_CASE = 20.0  # generous for a loaded 2-core machine; a hang is what it catches
RSS_GROWTH_MB = 1024  # across a whole test: an expanding alias or count would blow far past it


def _n(k: int) -> int:
    """Cases of one test; ARENA_FUZZ_SCALE=0.1 for a quick look, 10 for a long hunt."""
    return max(1, int(k * float(os.environ.get("ARENA_FUZZ_SCALE", "1"))))


def fuzz(cases: int) -> settings:
    return settings(
        max_examples=_n(cases),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


class ReachedRay(Exception):
    """The case passed every check made before Ray starts."""


@contextlib.contextmanager
def _no_ray(*args, **kw):
    raise ReachedRay
    yield  # pragma: no cover


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Import what a case needs (torch, the registries) once, outside the per-case time bound."""
    load_spec(QUICKSTART)
    main(["list", "detectors"])


@pytest.fixture(autouse=True)
def guard(monkeypatch, tmp_path):
    monkeypatch.setattr(deepfake_arena.launch, "ray_session", _no_ray)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.chdir(tmp_path)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024
    assert grown < RSS_GROWTH_MB, f"peak memory grew by {grown:.0f} MB"


def _snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    out = {}
    for p in root.rglob("*"):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        with contextlib.suppress(OSError):
            st_ = p.lstat()
            out[str(p)] = (st_.st_size, st_.st_mtime_ns)
    return out


def _call(argv: list[str], root: Path, own: Path | None = None) -> int:
    """Run `main(argv)` as one case: its exit code, after the per-case checks."""
    before = _snapshot(root, own)
    start = time.monotonic()
    try:
        code = main(argv)
    except ReachedRay:
        code = 0
    took = time.monotonic() - start
    assert code in (0, 1, 3), (argv, code)
    assert took < SECONDS_PER_CASE, (argv, took)
    assert _snapshot(root, own) == before, f"{argv} touched files outside its run folder"
    return code


# --------------------------------------------------------------------------- generated values

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, 1, 2, -1, 10**7, 10**8, 2**31, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["auto", "cpu", "cuda", "blend", "meso4", "finetune", "../x", "$(x)", "\x00"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "seed", "rounds", "device", "release_lag", "world", "world.kind", "world.resolution", "world.path",
    "world.identities.train", "world.reals_per_round.train", "world.reals_per_round.eval",
    "world.capture_drift", "population.size", "population.elite", "population.families",
    "population.fakes_per_strain.train", "population.innovation", "population.training",
    "detectors", "detectors.0.arch", "detectors.0.strategy", "detectors.0.scratch.steps",
    "detectors.0.scratch.batch_size", "detectors.1.name", "metrics.bootstrap", "evaluation.past_budget",
    "vault.families", "vault.reals", "resources.detector.num_cpus", "resources.generator.num_gpus",
    "extractor", "sweep", "seeds", "nonsense", "detectors.9.arch",
]  # fmt: skip
keys = st.one_of(st.sampled_from(KEYS), st.text(alphabet="abcz.0129_-", min_size=1, max_size=20))
YAML_BITS = [
    "&a [1, 2]",
    "*a",
    "!!python/object:os.system x",
    "{",
    "[",
    ": :",
    "'",
    "- - -",
    "\t",
    "%YAML 1.1",
    "? x",
]


def _override_text(key: str, value: object) -> str:
    return f"{key}={json.dumps(value, allow_nan=True, default=str)}"


overrides = st.one_of(
    st.builds(_override_text, keys, values),
    st.builds(lambda k, bit: f"{k}={bit}", keys, st.sampled_from(YAML_BITS)),
    st.text(max_size=40),
)


def _mutated_spec(data: st.DataObject) -> str:
    spec = json.loads(json.dumps(BASE))
    for _ in range(data.draw(st.integers(0, 4))):
        path = data.draw(keys).split(".")
        node = spec
        for part in path[:-1]:
            nxt = (
                node[int(part)]
                if isinstance(node, list) and part.isdigit() and int(part) < len(node)
                else (node.get(part) if isinstance(node, dict) else None)
            )
            if not isinstance(nxt, dict | list):
                break
            node = nxt
        else:
            value = data.draw(values)
            if isinstance(node, dict):
                node[path[-1]] = value
            elif path[-1].isdigit() and int(path[-1]) < len(node):
                node[int(path[-1])] = value
    return yaml.safe_dump(spec, allow_unicode=True)


# --------------------------------------------------------------------------- specs and overrides


@fuzz(300)
@given(data=st.data())
def test_generated_specs(tmp_path, data):
    kind = data.draw(st.sampled_from(["mutated", "text", "bytes", "bits"]))
    if kind == "mutated":
        content = _mutated_spec(data).encode()
    elif kind == "text":
        content = data.draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    elif kind == "bytes":
        content = data.draw(st.binary(max_size=200))
    else:
        content = "\n".join(data.draw(st.lists(st.sampled_from(YAML_BITS), max_size=6))).encode()
    case = tmp_path / f"c{time.monotonic_ns()}"
    case.mkdir()
    spec = case / "spec.yaml"
    spec.write_bytes(content)
    _call(["run", str(spec), "--runs-dir", str(case / "runs"), "--name", "x"], case, case / "runs" / "x")
    assert not (case / "runs" / "x").exists() or not any((case / "runs" / "x").iterdir())


@fuzz(300)
@given(items=st.lists(overrides, min_size=1, max_size=4))
def test_generated_overrides(tmp_path, items):
    case = tmp_path / f"c{time.monotonic_ns()}"
    case.mkdir()
    items = [i for i in items if not i.startswith("-")]  # an option, not an override, to argparse
    code = _call(
        ["run", str(QUICKSTART), *items, "--runs-dir", str(case / "runs"), "--name", "x"],
        case,
        case / "runs" / "x",
    )
    assert code in (0, 1, 3)


# --------------------------------------------------------------------------- damaged run folders


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A committed run of 3 rounds whose spec asks for 4 (so resume goes on towards Ray)."""
    resolved = json.loads(resolved_json(load_spec(QUICKSTART)[0]))
    extra = {k: v for k, v in resolved.items() if k not in ("seed", "rounds", "world")}
    root = tmp_path_factory.mktemp("pristine")
    run = make_run(root, "run", rounds=4, world=resolved["world"], extra_spec=extra)
    lines = (run / "ledger.jsonl").read_text().splitlines(keepends=True)
    (run / "ledger.jsonl").write_text("".join(lines[:3]))
    shutil.rmtree(run / "rounds" / "r0004")
    return run


def _damage(run: Path, rng: random.Random) -> None:
    files = sorted(p for p in run.rglob("*") if p.is_file())
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(files)
        if target.is_symlink() or not target.is_file():  # already damaged by this loop
            continue
        how = rng.choice(["flip", "truncate", "delete", "dir", "garbage", "empty", "latin1", "link"])
        data = target.read_bytes()
        if how == "flip" and data:
            i = rng.randrange(len(data))
            target.write_bytes(data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :])
        elif how == "truncate":
            target.write_bytes(data[: rng.randrange(len(data) + 1)])
        elif how == "delete":
            target.unlink()
        elif how == "dir":
            target.unlink()
            target.mkdir()
        elif how == "garbage":
            target.write_bytes(rng.randbytes(rng.randrange(1, 300)))
        elif how == "empty":
            target.write_bytes(b"")
        elif how == "latin1":
            target.write_bytes(data + b"\xe9\xff\n")
        elif how == "link":  # a link to a file beside the run (never written through)
            target.unlink()
            target.symlink_to(run.parent / "outside.txt")


@fuzz(250)
@given(seed=st.integers(0, 2**32 - 1))
def test_damaged_run_folders(tmp_path, pristine, seed):
    rng = random.Random(seed)
    case = tmp_path / f"c{seed}-{time.monotonic_ns()}"
    case.mkdir()
    run = case / "run"
    shutil.copytree(pristine, run, symlinks=True)
    (case / "outside.txt").write_text("not part of the run")
    _damage(run, rng)
    for argv in (["status", str(run)], ["resume", str(run)], ["status", str(run)]):
        _call(argv, case, run)
    with contextlib.suppress(ArenaUserError, FileNotFoundError):  # the API's documented errors
        load(run)
    assert (case / "outside.txt").read_text() == "not part of the run"


@fuzz(12)
@given(seed=st.integers(0, 2**32 - 1), command=st.sampled_from(["plot", "report"]))
def test_damaged_run_folders_plot_and_report(tmp_path, pristine, seed, command):
    rng = random.Random(seed)
    case = tmp_path / f"c{seed}-{time.monotonic_ns()}"
    case.mkdir()
    run = case / "run"
    shutil.copytree(pristine, run, symlinks=True)
    _damage(run, rng)
    argv = [command, str(run)] + (["--out", str(run / "report" / "r.html")] if command == "report" else [])
    assert _call(argv, case, run) in (0, 1, 3)


# --------------------------------------------------------------------------- argument lists

words = st.one_of(
    st.sampled_from(
        ["", ".", "..", "/", "/dev/null", "../../x", "$(touch pwned)", "a b", "x" * 300, "ü"]
    ),
    st.text(min_size=1, max_size=12).filter(lambda s: not s.startswith("-") and "\x00" not in s),
)


@fuzz(300)
@given(data=st.data())
def test_generated_argument_lists(tmp_path, pristine, data):
    case = tmp_path / f"c{time.monotonic_ns()}"
    case.mkdir()
    run = case / "run"
    shutil.copytree(pristine, run, symlinks=True)
    (case / "afile").write_text("x")
    paths = st.one_of(
        words, st.sampled_from([str(run), str(case / "afile"), str(case / "missing"), str(case)])
    )
    command = data.draw(st.sampled_from(["status", "resume", "run", "list", "score", "effects", "ingest"]))
    p = data.draw(paths)
    if command == "status":
        argv = ["status", p]
    elif command == "resume":
        argv = [
            "resume",
            p,
            *data.draw(st.lists(overrides.filter(lambda s: not s.startswith("-")), max_size=2)),
        ]
        argv += data.draw(st.sampled_from([[], ["--force"], ["--address", "127.0.0.1:1"]]))
    elif command == "run":
        argv = ["run", data.draw(st.sampled_from([str(QUICKSTART), p])), f"--name={data.draw(words)}"]
        argv += ["--runs-dir", data.draw(st.sampled_from([str(case / "runs"), str(case / "afile"), p]))]
    elif command == "list":
        argv = ["list", data.draw(st.sampled_from(["generators", "detectors", "strategies"]))]
    elif command == "score":
        argv = ["score", "--detector", p, "--faces", data.draw(paths), "--out", data.draw(words) + ".csv"]
    elif command == "effects":
        argv = ["effects", p, "--no-plots", "--out", str(case / "fx")]
    else:
        src = data.draw(st.sampled_from([str(run), str(case / "afile"), str(case / "missing"), "ü", "$(x)"]))
        argv = ["ingest", src, "--out", str(case / "fs"), "--quiet"]
    allowed = {"resume": run, "effects": case / "fx", "ingest": case / "fs"}  # what the command writes
    assert _call(argv, case, allowed.get(command, case / "runs")) in (0, 1, 3)
