"""Optional loggers for `arena.run(..., callbacks=[...])`: TensorBoard event files and an MLflow
tracking store, where researchers look for training curves (issue 27). Both are off by default
and need their extras (`pip install -e '.[tensorboard]'` / `'.[mlflow]'`).

Each is a callback taking the `RoundEvent` of every committed round, and logs
- the run's config (the resolved spec) once,
- the round's headline metrics: every pooled (`strain == "all"`) zero-day, post and sealed score,
  as `<phase>/<metric>/<detector>` at step = round,
- each fit's training curve from the round's training.json (`train/<detector>/loss`, and
  `val_loss` when it validated) at a step counted over the detector's fits in this session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepfake_arena.api import RoundEvent

PHASES = ("zero_day", "post", "sealed")


def round_metrics(event: RoundEvent) -> list[tuple[str, float]]:
    """(tag, value) of the round's pooled scores, e.g. ("zero_day/auc/meso4-finetune", 0.91)."""
    df = event.results
    df = df[df["pooled"] & df["phase"].isin(PHASES)]
    if "generation" in df:  # the new generation's score (past rows are not logged)
        df = df[(df["phase"] == "sealed") | (df["generation"] == event.round)]
    return [
        (f"{r.phase}/{r.metric}/{r.detector}", float(r.value))
        for r in df.itertuples()
        if r.value == r.value  # NaN (undefined metric) is not logged
    ]


def training_curves(event: RoundEvent) -> dict[str, list[dict[str, float]]]:
    """detector -> its fit's curve this round (empty for a detector that did not train)."""
    from deepfake_arena.store.ledger import round_dir_name

    path = event.run_dir / "rounds" / round_dir_name(event.round) / "training.json"
    if not path.is_file():
        return {}
    reports = json.loads(path.read_text())
    return {name: list((rep or {}).get("curve") or []) for name, rep in reports.items()}


def resolved_spec(event: RoundEvent) -> dict[str, Any]:
    from deepfake_arena.store.run_info import read_spec

    return read_spec(event.run_dir)


def flat(spec: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested spec as dotted keys (lists by index) to JSON-encoded leaf values."""
    out: dict[str, str] = {}
    items = spec.items() if isinstance(spec, dict) else enumerate(spec)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict | list) and value:
            out.update(flat(value, f"{name}."))  # type: ignore[arg-type]
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


class _Steps:
    """Training steps per detector, counted over the fits this logger has seen."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {}

    def points(self, event: RoundEvent) -> list[tuple[str, str, float, int]]:
        """(detector, "loss" | "val_loss", value, global step) for the round's curves."""
        out: list[tuple[str, str, float, int]] = []
        for det, curve in training_curves(event).items():
            base = self.done.get(det, 0)
            for p in curve:
                for key in ("loss", "val_loss"):
                    if key in p:
                        out.append((det, key, float(p[key]), base + int(p["step"])))
            if curve:
                self.done[det] = base + int(curve[-1]["step"])
        return out


class TensorBoardLogger:
    """Event files under `log_dir` (default: RUN_DIR/tensorboard): `tensorboard --logdir ...`."""

    def __init__(self, log_dir: str | Path | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir else None
        self.writer: Any = None
        self.steps = _Steps()

    def __call__(self, event: RoundEvent) -> None:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self.log_dir = self.log_dir or event.run_dir / "tensorboard"
            self.writer = SummaryWriter(log_dir=str(self.log_dir))
            spec = json.dumps(resolved_spec(event), indent=2, sort_keys=True)
            self.writer.add_text("config", f"```\n{spec}\n```", 0)
        for tag, value in round_metrics(event):
            self.writer.add_scalar(tag, value, event.round)
        for det, key, value, step in self.steps.points(event):
            self.writer.add_scalar(f"train/{det}/{key}", value, step)
        self.writer.flush()
        if event.round >= event.total_rounds:
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class MLflowLogger:
    """One MLflow run per arena run, in `tracking_uri` (default: a local file store,
    RUN_DIR/mlruns: `mlflow ui --backend-store-uri RUN_DIR/mlruns`): the resolved spec as params
    and as an artifact, the round's scores and the training curves as metrics."""

    def __init__(self, tracking_uri: str | None = None, experiment: str = "deepfake-arena") -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.client: Any = None
        self.run_id: str | None = None
        self.steps = _Steps()

    def _start(self, event: RoundEvent) -> None:
        from mlflow.tracking import MlflowClient  # needs the mlflow-skinny package

        if self.tracking_uri is None:
            # A local file store needs no server or database (mlflow-skinny has no SQLAlchemy);
            # MLflow 3.x keeps it in maintenance mode and asks for this opt-in to use it.
            import os

            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            self.tracking_uri = (event.run_dir / "mlruns").resolve().as_uri()
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        found = self.client.get_experiment_by_name(self.experiment)
        exp_id = found.experiment_id if found else self.client.create_experiment(self.experiment)
        run = self.client.create_run(exp_id, run_name=event.run_dir.name)
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        spec = resolved_spec(event)
        params = [Param(k, v[:6000]) for k, v in sorted(flat(spec).items())]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])
        self.client.log_dict(self.run_id, spec, "spec.resolved.json")

    def __call__(self, event: RoundEvent) -> None:
        import time

        from mlflow.entities import Metric

        if self.client is None:
            self._start(event)
        now = int(time.time() * 1000)
        metrics = [Metric(tag.replace("/", "."), v, now, event.round) for tag, v in round_metrics(event)]
        curves = self.steps.points(event)
        metrics += [Metric(f"train.{det}.{key}", v, now, step) for det, key, v, step in curves]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000])
        if event.round >= event.total_rounds:
            self.client.set_terminated(self.run_id)
