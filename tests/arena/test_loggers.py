"""The optional TensorBoard and MLflow loggers (deepfake_arena.loggers), read back from what they wrote:
the config, the round's pooled scores at step = round, and every fit's training curve."""

from __future__ import annotations

import json

import pytest

from deepfake_arena.api import RoundEvent
from deepfake_arena.loggers import MLflowLogger, TensorBoardLogger, flat
from deepfake_arena.store.ledger import round_dir_name
from tests.arena.fake_runs import make_run

ROUNDS = 3


def _run_with_curves(tmp_path):
    run_dir = make_run(tmp_path, "lg", rounds=ROUNDS)
    for r in range(1, ROUNDS + 1):
        curve = [{"step": 2, "loss": 0.7 - 0.1 * r}, {"step": 4, "loss": 0.6 - 0.1 * r, "val_loss": 0.65}]
        report = {"d": {"steps_run": 4, "final_loss": curve[-1]["loss"], "curve": curve}, "frozen": None}
        (run_dir / "rounds" / round_dir_name(r) / "training.json").write_text(json.dumps(report))
    return run_dir


def _events(run_dir):
    return [RoundEvent(r, ROUNDS, run_dir, "") for r in range(1, ROUNDS + 1)]


def _expected_zero_day(run_dir, det):
    import deepfake_arena.results

    df = deepfake_arena.results.load(run_dir, phase="zero_day", pooled=True, metric="auc", detector=det)
    return {int(r["round"]): r.value for _, r in df[df.generation == df["round"]].iterrows()}


def test_tensorboard_event_files_hold_config_scores_and_curves(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = _run_with_curves(tmp_path)
    logger = TensorBoardLogger()
    for event in _events(run_dir):
        logger(event)
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    det = next(t for t in tags["scalars"] if t.startswith("zero_day/auc/")).split("/")[-1]
    got = {e.step: e.value for e in acc.Scalars(f"zero_day/auc/{det}")}
    want = _expected_zero_day(run_dir, det)
    assert set(got) == set(want) and all(got[k] == pytest.approx(want[k], abs=1e-6) for k in want)
    loss = [(e.step, round(e.value, 4)) for e in acc.Scalars("train/d/loss")]
    assert loss == [(2, 0.6), (4, 0.5), (6, 0.5), (8, 0.4), (10, 0.4), (12, 0.3)]  # steps over fits
    assert [e.step for e in acc.Scalars("train/d/val_loss")] == [4, 8, 12]
    assert "config/text_summary" in tags["tensors"]


def test_mlflow_store_holds_config_scores_and_curves(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    run_dir = _run_with_curves(tmp_path)
    logger = MLflowLogger()
    for event in _events(run_dir):
        logger(event)
    client = MlflowClient(tracking_uri=(run_dir / "mlruns").resolve().as_uri())
    exp = client.get_experiment_by_name("deepfake-arena")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == "lg" and run.info.status == "FINISHED"
    assert run.data.params["rounds"] == str(ROUNDS) and run.data.params["world.resolution"] == "16"
    key = next(k for k in run.data.metrics if k.startswith("zero_day.auc."))
    got = {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)}
    want = _expected_zero_day(run_dir, key.split(".", 2)[-1])
    assert set(got) == set(want) and all(got[k] == pytest.approx(want[k]) for k in want)
    history = client.get_metric_history(run.info.run_id, "train.d.loss")
    loss = sorted((m.step, round(m.value, 4)) for m in history)
    assert loss == [(2, 0.6), (4, 0.5), (6, 0.5), (8, 0.4), (10, 0.4), (12, 0.3)]


def test_flat_spec():
    spec = {"a": {"b": 1, "c": [1, {"d": "x"}]}, "e": None}
    assert flat(spec) == {"a.b": "1", "a.c.0": "1", "a.c.1.d": "x", "e": "null"}
