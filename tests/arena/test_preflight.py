"""Specs and arguments that could never finish are refused before Ray starts, in one line, leaving
no run folder (issue 25 #5, #10): YAML alias bombs and deep nesting, counts beyond their bounds or
beyond this machine's memory, more families than strains, a --runs-dir that is a file, run names
that are not one folder name; and the printed resume hint is quoted for the shell."""

from __future__ import annotations

import shlex
import shutil
import time
from pathlib import Path

import pytest

from deepfake_arena.cli import main
from deepfake_arena.errors import RunInterrupted

QUICKSTART = Path(__file__).resolve().parents[2] / "runs" / "quickstart.yaml"
BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _refused(tmp_path, capsys, argv, match):
    """Assert `arena run argv` is refused in one line naming `match`, before Ray; the line."""
    runs = tmp_path / "runs"
    start = time.monotonic()
    code = main(
        ["run", *argv, "--runs-dir", str(runs), "--name", "x"] if "--name" not in argv else ["run", *argv]
    )
    took = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert match in err, err
    assert took < 30  # torch imports on a busy 2-core machine; nothing waits on Ray
    assert not (runs / "x").exists()
    import ray

    assert not ray.is_initialized()
    return err
    return err


def _spec(tmp_path, text=None):
    path = tmp_path / "spec.yaml"
    path.write_text(text if text is not None else QUICKSTART.read_text())
    return str(path)


def test_alias_bomb_is_refused(tmp_path, capsys):
    assert _refused(tmp_path, capsys, [_spec(tmp_path, BOMB)], "aliases")


def test_alias_in_an_override_is_refused(tmp_path, capsys):
    assert _refused(tmp_path, capsys, [_spec(tmp_path), "population.families=[&a blend, *a]"], "aliases")


def test_deep_nesting_and_non_utf8_are_refused(tmp_path, capsys):
    assert _refused(tmp_path, capsys, [_spec(tmp_path, "a: " + "[" * 20000 + "]" * 20000)], "nested")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"seed: 0\n# caf\xe9\n")
    assert _refused(tmp_path, capsys, [str(path)], "not UTF-8")


@pytest.mark.parametrize(
    "override, match",
    [
        ("population.size=10000000", "population.size"),
        ("world.reals_per_round.train=100000000", "world.reals_per_round.train"),
        ("population.families=[blend, autoencoder]", "smaller than the number of families"),
    ],
)
def test_counts_beyond_bounds_are_refused(tmp_path, capsys, override, match):
    argv = [_spec(tmp_path), override]
    if "families" in override:
        argv.append("population.size=1")
        argv.append("population.elite=0")
    assert _refused(tmp_path, capsys, argv, match)


def test_a_spec_beyond_this_machines_memory_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = [_spec(tmp_path), "world.reals_per_round.train=1000000", "world.resolution=512"]
    assert _refused(tmp_path, capsys, argv, "GiB per round")


def test_runs_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    spec = _spec(tmp_path)
    for runs in (tmp_path / "afile", tmp_path / "afile" / "below"):
        assert main(["run", spec, "--runs-dir", str(runs), "--name", "x"]) == 1
        err = capsys.readouterr().err
        assert "--runs-dir" in err and err.count("\n") == 1


@pytest.mark.skipif(
    shutil.which("id") is None or __import__("os").geteuid() == 0, reason="root writes anywhere"
)
def test_read_only_runs_dir_is_refused(tmp_path, capsys):
    runs = tmp_path / "ro"
    runs.mkdir()
    runs.chmod(0o500)
    try:
        assert main(["run", _spec(tmp_path), "--runs-dir", str(runs), "--name", "x"]) == 1
        assert "not writable" in capsys.readouterr().err
    finally:
        runs.chmod(0o700)


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "a/b", "$(touch pwned)", "..", ".hidden", "-x", ""])
def test_run_names_must_be_one_folder_name(tmp_path, capsys, name):
    runs = tmp_path / "runs"
    assert main(["run", _spec(tmp_path), "--runs-dir", str(runs), f"--name={name}"]) == 1
    assert "run name" in capsys.readouterr().err
    assert not runs.exists() and not (tmp_path / "x").exists() and not Path("pwned").exists()


def test_resume_hint_is_quoted_for_the_shell(monkeypatch, capsys):
    import deepfake_arena.launch

    where = "runs/a b$(touch pwned)"

    def interrupted(*args, **kw):
        raise RunInterrupted(where)

    monkeypatch.setattr(deepfake_arena.launch, "start_run", interrupted)
    assert main(["run", "spec.yaml"]) == 3
    err = capsys.readouterr().err
    hint = err.split("Continue with: ", 1)[1].strip()
    assert shlex.split(hint) == ["arena", "resume", where]


def test_a_ray_address_that_does_not_answer_fails_in_one_line(tmp_path, capsys):
    err = _refused(tmp_path, capsys, [_spec(tmp_path), "--address", "127.0.0.1:1"], "does not answer")
    assert "127.0.0.1:1" in err


def test_address_check_refuses_malformed_addresses():
    from deepfake_arena.errors import ArenaUserError
    from deepfake_arena.preflight import check_address

    with pytest.raises(ArenaUserError, match="host:port"):
        check_address("nonsense")
    with pytest.raises(ArenaUserError, match="does not answer"):
        check_address("ray://127.0.0.1:1", timeout=0.5)


def test_resume_warns_when_spec_yaml_was_edited(tmp_path, capsys, monkeypatch):
    import deepfake_arena.launch
    from deepfake_arena.spec import load_spec, resolved_json
    from deepfake_arena.store.run_dir import RunStore

    spec, text = load_spec(QUICKSTART, ["rounds=2"])
    store = RunStore.create(tmp_path / "run", text, resolved_json(spec), {}, ["rounds=2"])
    monkeypatch.setattr(deepfake_arena.launch, "_drive", lambda pairs, *a, **kw: pairs[0][1].dir)
    assert main(["resume", str(store.dir)]) == 0
    assert "warning" not in capsys.readouterr().err
    (store.dir / "spec.yaml").write_text(text.replace("rounds: 6", "rounds: 60"))
    assert main(["resume", str(store.dir)]) == 0
    assert "spec.yaml was edited after the run started" in capsys.readouterr().err
