"""The commit protocol and recovery: a round counts only when its ledger line and files check out."""

import json
import os

import pytest

from arena.errors import ArenaUserError
from arena.store.ledger import committed_rounds
from arena.store.lock import RunLock
from arena.store.run_dir import RunStore


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
