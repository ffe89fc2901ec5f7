"""The commit protocol and recovery: a round counts only when its ledger line and files check out."""

import json
import os

import pytest

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.store.ledger import committed_rounds
from deepfake_arena.store.lock import RunLock
from deepfake_arena.store.run_dir import RunStore


def _store(tmp_path):
    return RunStore.create(tmp_path / "run", "seed: 0\n", json.dumps({"rounds": 3}), {"host": "test"})


def _commit(store, r, payload=b"data"):
    tmp = store.begin_round(r)
    (tmp / "results.parquet").write_bytes(payload + bytes([r]))
    (tmp / "detectors" / "d.safetensors").write_bytes(b"weights" + bytes([r]))
    store.commit_round(r, tmp)


def test_commit_and_verify(tmp_path):
    store = _store(tmp_path)
    for r in (1, 2):
        _commit(store, r)
    state = committed_rounds(store.dir)
    assert state.rounds == [1, 2] and not state.problems
    assert not [p for p in store.rounds_dir.iterdir() if p.name.startswith(".tmp")]


def test_create_refuses_existing(tmp_path):
    _store(tmp_path)
    with pytest.raises(ArenaUserError, match="already exists"):
        _store(tmp_path)


def test_truncated_weights_fall_back(tmp_path):
    store = _store(tmp_path)
    for r in (1, 2, 3):
        _commit(store, r)
    weights = store.round_path(3) / "detectors" / "d.safetensors"
    weights.write_bytes(weights.read_bytes()[:3])
    last, notes = store.recover()
    assert last == 2
    assert any("d.safetensors does not match its sha256" in n for n in notes)
    assert not store.round_path(3).exists()
    _commit(store, 3)  # the round is played again and counts
    assert committed_rounds(store.dir).rounds == [1, 2, 3]


def test_flipped_manifest_byte_and_torn_ledger(tmp_path):
    store = _store(tmp_path)
    for r in (1, 2):
        _commit(store, r)
    manifest = store.round_path(2) / "manifest.json"
    data = bytearray(manifest.read_bytes())
    data[10] ^= 0x01
    manifest.write_bytes(bytes(data))
    assert committed_rounds(store.dir).rounds == [1]
    with open(store.dir / "ledger.jsonl", "a") as fh:
        fh.write('{"round": 3, "manif')
    last, notes = store.recover()
    assert last == 1
    assert any("manifest.json does not match" in n for n in notes)
    assert list(store.dir.glob("ledger.jsonl.bad-*"))


def test_recover_removes_temp_and_unledgered_rounds(tmp_path):
    store = _store(tmp_path)
    _commit(store, 1)
    store.begin_round(2)  # a crash mid-round leaves a temp dir
    (store.rounds_dir / "r0003").mkdir()  # a crash after the rename, before the ledger line
    last, notes = store.recover()
    assert last == 1
    assert sorted(p.name for p in store.rounds_dir.iterdir()) == ["r0001"]
    assert len(notes) == 2


def test_lock_refuses_second_driver(tmp_path):
    store = _store(tmp_path)
    with store.lock:
        assert RunLock(store.dir).is_held()
        with pytest.raises(ArenaUserError, match=f"locked by pid {os.getpid()}"):
            RunLock(store.dir).acquire()
    assert not RunLock(store.dir).is_held()


def _commit_with_samples(store, r):
    tmp = store.begin_round(r)
    (tmp / "results.parquet").write_bytes(b"data" + bytes([r]))
    (tmp / "detectors" / "d.safetensors").write_bytes(b"weights" + bytes([r]))
    (tmp / "samples.png").write_bytes(b"png" + bytes([r]))
    store.commit_round(r, tmp)


def _flip(path, at=2):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_missing_ledger_is_rebuilt_and_no_round_is_deleted(tmp_path):
    store = _store(tmp_path)
    for r in (1, 2, 3):
        _commit_with_samples(store, r)
    (store.dir / "ledger.jsonl").unlink()
    assert committed_rounds(store.dir).missing_ledger
    last, notes = store.recover()
    assert last == 3
    assert all(store.round_path(r).is_dir() for r in (1, 2, 3))
    assert any("rebuilt" in n for n in notes) and not any("moved" in n for n in notes)
    assert committed_rounds(store.dir).rounds == [1, 2, 3]
    assert store.recover() == (3, [])  # the rebuilt ledger verifies


def test_missing_ledger_with_a_corrupt_round_keeps_it_in_quarantine(tmp_path):
    store = _store(tmp_path)
    for r in (1, 2, 3):
        _commit_with_samples(store, r)
    (store.dir / "ledger.jsonl").unlink()
    _flip(store.round_path(2) / "detectors" / "d.safetensors")
    last, notes = store.recover()
    assert last == 1
    kept = sorted(p.name for p in (store.dir / "quarantine").glob("*/r*"))
    assert kept == ["r0002", "r0003"]


def test_damaged_sample_picture_keeps_every_round(tmp_path):
    store = _store(tmp_path)
    for r in (1, 2, 3):
        _commit_with_samples(store, r)
    _flip(store.round_path(1) / "samples.png")
    last, notes = store.recover()
    assert last == 3
    assert all(store.round_path(r).is_dir() for r in (1, 2, 3))
    assert any("samples.png is corrupt" in n and "quarantine/" in n for n in notes)
    assert not (store.round_path(1) / "samples.png").exists()
    assert len(list((store.dir / "quarantine").glob("*/r0001/samples.png"))) == 1
    entry = json.loads((store.dir / "ledger.jsonl").read_text().splitlines()[0])
    assert entry["dropped"] == ["samples.png"]
    assert store.recover() == (3, [])


def test_corrupt_round_and_later_ones_are_quarantined_not_deleted(tmp_path):
    store = _store(tmp_path)
    for r in (1, 2, 3):
        _commit_with_samples(store, r)
    _flip(store.round_path(2) / "results.parquet")
    last, notes = store.recover()
    assert last == 1
    assert not any("uncommitted" in n for n in notes)
    assert any(n.startswith("round 2 is corrupt") for n in notes)
    assert any(n.startswith("round 3 was built on corrupt round 2") for n in notes)
    moved = {p.parent.name: p for p in (store.dir / "quarantine").glob("*/r*/manifest.json")}
    assert sorted(moved) == ["r0002", "r0003"]
    _commit_with_samples(store, 2)  # played again, it counts
    assert committed_rounds(store.dir).rounds == [1, 2]


def test_overrides_are_saved_and_an_edited_spec_yaml_is_noticed(tmp_path):
    store = RunStore.create(
        tmp_path / "run", "seed: 0\n", json.dumps({"rounds": 3}), {}, overrides=["rounds=3"]
    )
    assert json.loads((store.dir / "overrides.json").read_text()) == ["rounds=3"]
    assert json.loads((store.dir / "env.json").read_text())["format_version"] >= 2
    assert store.spec_yaml_note() is None
    (store.dir / "spec.yaml").write_text("seed: 1\n")
    note = store.spec_yaml_note()
    assert note and "was edited after the run started" in note and "spec.resolved.json" in note


def _old_format(store):
    """What a run folder written before format_version existed looks like."""
    env_path = store.dir / "env.json"
    env = json.loads(env_path.read_text())
    for key in ("format_version", "spec_yaml_sha256"):
        env.pop(key)
    env_path.write_text(json.dumps(env))
    (store.dir / "overrides.json").unlink()


def test_an_older_run_folder_is_upgraded_and_the_step_recorded(tmp_path):
    store = _store(tmp_path)
    _commit(store, 1)
    _old_format(store)
    assert store.format_version() == 1
    last, notes = store.recover()
    assert last == 1 and any("format 1 upgraded to 2" in n for n in notes)
    env = json.loads((store.dir / "env.json").read_text())
    assert env["format_version"] == 2 and env["format_upgrades"][0]["from"] == 1
    assert store.recover() == (1, [])
    assert store.spec_yaml_note() is None  # no spec.yaml hash recorded then: nothing to compare


def test_a_newer_run_folder_is_refused_naming_both_versions(tmp_path):
    store = _store(tmp_path)
    env_path = store.dir / "env.json"
    env_path.write_text(json.dumps({**json.loads(env_path.read_text()), "format_version": 99}))
    with pytest.raises(ArenaUserError, match="format 99; this arena reads formats up to 2"):
        store.recover()
