"""The notebook API (issue 27): arena.run takes a path or a dict, overrides as a mapping, calls
callbacks after each committed round and returns a Run with its results, directory and plots."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

import deepfake_arena as arena
from deepfake_arena.api import _override_words
from deepfake_arena.errors import ArenaUserError
from tests.conftest import QUICKSTART, REPO, TINY


def _as_mapping(words: list[str]) -> dict[str, object]:
    return {w.split("=", 1)[0]: yaml.safe_load(w.split("=", 1)[1]) for w in words}


def test_import_arena_stays_light():
    code = "import sys, arena; sys.exit(any(m in sys.modules for m in ('torch', 'ray', 'pandas')))"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_override_mapping_becomes_the_clis_words():
    words = _override_words({"rounds": 3, "detectors.0.strategy": "frozen", "world.identities": {"train": 8}})
    from deepfake_arena.spec import apply_overrides, parse_overrides

    raw = apply_overrides({"detectors": [{"name": "d"}]}, parse_overrides(words))
    assert raw["rounds"] == 3 and raw["detectors"][0]["strategy"] == "frozen"
    assert raw["world"]["identities"] == {"train": 8}
    assert _override_words(None) == [] and _override_words(["rounds=2"]) == ["rounds=2"]
    with pytest.raises(ArenaUserError):
        _override_words("rounds=2")


def test_open_run_needs_a_run(tmp_path):
    with pytest.raises(ArenaUserError, match="not an arena run directory"):
        arena.open_run(tmp_path)


@pytest.mark.slow
def test_run_from_a_dict_with_callbacks(tmp_path):
    spec = yaml.safe_load(QUICKSTART.read_text())
    overrides = {**_as_mapping(TINY), "rounds": 2}
    seen = []
    run = arena.run(
        spec, overrides=overrides, name="nb", runs_dir=tmp_path, callbacks=[seen.append], quiet=True
    )
    assert run.dir == tmp_path / "nb"
    assert [e.round for e in seen] == [1, 2] and all(e.total_rounds == 2 for e in seen)
    assert set(seen[1].results["round"]) == {2}
    df = run.results
    assert sorted(df["round"].unique()) == [1, 2] and "pooled" in df
    assert run.spec["rounds"] == 2
    paths = run.plots()
    assert any(p.name == "cat_and_mouse_auc.png" for p in paths) and all(p.is_file() for p in paths)
    assert (run.dir / "spec.yaml").is_file()
    again = arena.open_run(run.dir)
    assert len(again.results) == len(df)
