"""The CLI forgives order and says more (issue 27): overrides among flags, --version, `arena list`
with descriptions, `arena spec` (a dry run and the JSON schema), the README's generated spec
reference, Ray's auth warning chosen away, and one CPU-fallback warning per driver."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

import deepfake_arena as arena
from deepfake_arena.cli import list_entries, main, parse_args, summary
from deepfake_arena.launch import cpu_fallback_note, quiet_local_ray_auth
from deepfake_arena.spec import load_spec
from tests.conftest import QUICKSTART


def test_overrides_and_flags_in_any_order():
    args = parse_args(["run", str(QUICKSTART), "--name", "x", "rounds=3", "--runs-dir", "out", "seed=7"])
    assert args.name == "x" and args.runs_dir == "out"
    assert args.overrides == ["rounds=3", "seed=7"]
    args = parse_args(["run", str(QUICKSTART), "rounds=3", "--name", "x", "seed=7"])
    assert args.overrides == ["rounds=3", "seed=7"] and args.name == "x"
    args = parse_args(["resume", "runs/x", "--force", "rounds=10"])
    assert args.overrides == ["rounds=10"] and args.force


def test_unknown_words_are_still_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["run", str(QUICKSTART), "--name", "x", "rounds=3", "--bogus"])
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["status", "runs/x", "rounds=3"])  # status takes no overrides


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"arena {arena.__version__}"


@pytest.mark.parametrize("what", ["generators", "detectors", "strategies", "metrics"])
def test_list_gives_one_line_descriptions(what, capsys):
    assert main(["list", what]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [n for n, _ in list_entries(what)]
    assert len(lines) == len(names) and len(names) >= 3
    for line, name in zip(lines, names, strict=True):
        assert line.split()[0] == name
        assert len(line.split()) >= 3, f"no description: {line!r}"
        assert len(line) <= 120


def test_summary_is_the_first_sentence():
    assert summary("Warp and blend. More here.\n\nLater.") == "Warp and blend."
    assert summary("x" * 200).endswith("...") and len(summary("x" * 200)) == 100


def test_spec_dry_run_prints_the_resolved_spec(capsys):
    assert main(["spec", str(QUICKSTART), "rounds=3", "detectors.0.strategy=frozen"]) == 0
    printed = json.loads(capsys.readouterr().out)
    spec, _ = load_spec(QUICKSTART, ["rounds=3", "detectors.0.strategy=frozen"])
    assert printed == spec.model_dump(mode="json")
    assert printed["rounds"] == 3 and printed["detectors"][0]["strategy"] == "frozen"


def test_spec_dry_run_of_a_sweep_lists_members(capsys):
    assert main(["spec", str(QUICKSTART), "seeds=[0,1]"]) == 0
    members = json.loads(capsys.readouterr().out)["members"]
    assert [m["seed"] for m in members.values()] == [0, 1]


def test_spec_errors_are_one_line(capsys):
    assert main(["spec", str(QUICKSTART), "bogus=1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("arena: error:") and "bogus" in err and err.count("\n") == 1
    assert main(["spec"]) == 1


def test_spec_schema_is_the_pydantic_schema(capsys):
    from deepfake_arena.spec import RunSpec

    assert main(["spec", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == RunSpec.model_json_schema()
    assert "detectors" in schema["required"]


def test_readme_spec_reference_is_generated_from_the_schema():
    from deepfake_arena.spec_reference import main as reference_main

    assert reference_main(["--check"]) == 0, "stale: run python -m deepfake_arena.spec_reference"


def test_spec_reference_covers_every_key():
    from deepfake_arena.spec_reference import rows

    keys = {r[0] for r in rows()}
    assert {"rounds", "world.resolution", "detectors.N.strategy", "population.innovation.N.round"} <= keys


def test_rays_auth_notice_is_dropped_but_token_auth_stays_on(monkeypatch):
    """Ray's own code path for a local ray.init() with RAY_AUTH_MODE unset: it turns token auth on
    and logs the notice; after quiet_local_ray_auth the notice is gone and the mode is the same."""
    from ray._private.authentication import authentication_token_setup as auth

    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    log = logging.getLogger(auth.__name__)
    handler = Collect(logging.WARNING)
    log.addHandler(handler)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.setattr(auth, "_enable_token_auth", lambda: None)  # keep this process's config as is
    monkeypatch.setattr(log, "filters", list(log.filters))
    try:
        assert auth.enable_token_auth_by_default() is True
        assert any("Token authentication is enabled" in m for m in seen)  # the premise: Ray logs it
        seen.clear()
        quiet_local_ray_auth()
        quiet_local_ray_auth()  # idempotent
        assert auth.enable_token_auth_by_default() is True
        assert seen == []
        assert len(log.filters) == 1
    finally:
        log.removeHandler(handler)


def test_cpu_fallback_warns_once_on_the_driver(monkeypatch, capsys):
    import ray

    from deepfake_arena import launch

    spec, _ = load_spec(QUICKSTART, ["device=cuda"])
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0, "memory": 1e12})
    monkeypatch.setattr(launch, "_NOTED", set())
    for _ in range(3):  # start_run and _drive each check; a sweep checks every member
        launch._check_resources(spec)
    err = capsys.readouterr().err
    assert err.count("arena: warning: device: cuda but the Ray cluster has no GPUs") == 1


def test_cpu_fallback_note():
    spec, _ = load_spec(QUICKSTART, ["device=cuda"])
    assert "no GPUs" in (cpu_fallback_note(spec, {"CPU": 2.0}) or "")
    assert cpu_fallback_note(spec, {"CPU": 2.0, "GPU": 1.0}) is None
    cpu, _ = load_spec(QUICKSTART)
    assert cpu_fallback_note(cpu, {"CPU": 2.0}) is None


def test_a_worker_without_assigned_gpus_falls_back_silently(monkeypatch):
    from deepfake_arena.rounds.tasks import setup_worker

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert setup_worker(1, "cuda") == "cpu"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # Ray gave it a GPU torch cannot see: a fault
    with pytest.warns(UserWarning, match="no GPU is visible"):
        assert setup_worker(1, "cuda") == "cpu"
