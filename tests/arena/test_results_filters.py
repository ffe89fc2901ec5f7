"""A results table without traps (issue 27): the `pooled` column, load's filters, swept keys'
columns for a sweep member loaded alone, old files without `pooled`, and env.json's provenance."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepfake_arena.results import ALL, SCHEMA, load, to_table, write_results
from deepfake_arena.store.run_dir import RunStore
from deepfake_arena.store.run_info import git_commit, package_versions
from tests.arena.fake_runs import row


def _rows(r: int) -> list[dict[str, object]]:
    out = []
    for det in ("a", "b"):
        for phase in ("zero_day", "post"):
            for strain, value in ((ALL, 0.9), ("s1", 0.7), ("s2", 0.5)):
                family = ALL if strain == ALL else "blend"
                out.append(row(detector=det, round=r, phase=phase, strain=strain, family=family, value=value))
    return out


def _run(path, rounds=2):
    store = RunStore.create(path, "x", json.dumps({"rounds": rounds}), {})
    for r in range(1, rounds + 1):
        tmp = store.begin_round(r)
        write_results(tmp / "results.parquet", _rows(r))
        store.commit_round(r, tmp)
    return store


def test_pooled_marks_the_strain_all_rows(tmp_path):
    df = load(_run(tmp_path / "run").dir)
    assert df["pooled"].dtype == bool
    assert (df["pooled"] == (df["strain"] == ALL)).all() and df["pooled"].any()
    # the trap the column avoids: a mean over strains with the pooled row in it
    per_strain = df[~df.pooled].groupby(["round", "detector", "phase"]).value.mean()
    assert per_strain.eq(0.6).all()


def test_load_filters(tmp_path):
    d = _run(tmp_path / "run").dir
    df = load(d, phase="zero_day", pooled=False, detector="a")
    assert set(df.phase) == {"zero_day"} and set(df.detector) == {"a"} and not df.pooled.any()
    assert len(df) == 2 * 2  # rounds x strains
    assert set(load(d, phase=["zero_day", "post"], round=2)["round"]) == {2}
    assert load(d, metric="ap").empty
    with pytest.raises(ValueError, match="no column bogus"):
        load(d, bogus=1)


def test_an_old_results_file_without_pooled_or_method_loads_with_them_derived(tmp_path):
    store = RunStore.create(tmp_path / "old", "x", json.dumps({"rounds": 1}), {})
    tmp = store.begin_round(1)
    rows = [{**r, "method": "A"} for r in _rows(1)]
    table = to_table(rows).drop_columns(["pooled", "method"])  # the schema before the columns existed
    pq.write_table(table, tmp / "results.parquet")
    store.commit_round(1, tmp)
    df = load(store.dir)
    assert list(df.columns) == SCHEMA.names
    assert (df["pooled"] == (df["strain"] == ALL)).all()
    assert df["method"].isna().all()


def test_a_row_without_method_is_an_error_not_a_guess():
    rows = _rows(1)
    del rows[0]["method"]
    with pytest.raises(ValueError, match=r"missing \['method'\]"):
        to_table(rows)


def test_written_files_carry_pooled(tmp_path):
    write_results(tmp_path / "r.parquet", _rows(1))
    t = pq.read_table(tmp_path / "r.parquet")
    assert t.schema.field("pooled").type == pa.bool_()


def test_a_sweep_member_loaded_alone_keeps_its_swept_keys(tmp_path):
    sweep = tmp_path / "sw"
    members = [
        {"name": "population.size=4__seed0", "settings": {"population.size": 4, "seed": 0}},
        {"name": "population.size=8__seed0", "settings": {"population.size": 8, "seed": 0}},
    ]
    for m in members:
        _run(sweep / m["name"], rounds=1)
    (sweep / "sweep.json").write_text(json.dumps({"members": members, "overrides": []}))
    alone = load(sweep / members[1]["name"])
    assert set(alone["population.size"]) == {8} and "seed" in alone and "member" not in alone
    both = load(sweep)
    assert sorted(both["population.size"].unique()) == [4, 8]
    assert set(both.member) == {m["name"] for m in members}
    assert set(load(sweep, **{"population.size": 4}).member) == {members[0]["name"]}


def test_env_json_provenance(tmp_path):
    versions = package_versions()
    assert set(versions) >= {"torch", "kornia", "ray", "diffusers", "numpy"}
    assert versions["torch"] and versions["numpy"]
    assert package_versions(["no-such-package-xyz"]) == {"no-such-package-xyz": None}
    assert git_commit(tmp_path) is None  # not a checkout
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    found = git_commit(repo)
    assert found is not None and len(found["commit"]) == 40 and found["dirty"] is False
    (repo / "f").write_text("2")
    assert git_commit(repo)["dirty"] is True


def test_environment_records_versions_and_commit():
    from deepfake_arena.launch import environment

    env = environment()
    assert env["versions"]["ray"] and "git" in env
    json.dumps(env)  # env.json must serialise
