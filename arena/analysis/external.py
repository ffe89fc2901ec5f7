"""Reading the `external` rows (labelled real deepfakes scored every round, `deepfake_arena.rounds.external`):
each version's role in its round and a per-round summary for the report. Torch-free."""

from __future__ import annotations

from typing import Any

import pandas as pd

from deepfake_arena.results import ALL

PHASE = "external"


def pooled(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return roles(df, metric, per_method=False)


def roles(df: pd.DataFrame, metric: str, per_method: bool = True) -> pd.DataFrame:
    """The external rows of `metric` (pooled only, unless `per_method`), each with its version's
    role in its round: `zero_day` (the deployed version), `post` (the retrained one), or both for
    a version that is both (a frozen detector); `set` names the external set."""
    keys = ["run", "seed", "round", "detector", "detector_round"]
    ext = df[(df.phase == PHASE) & (df.metric == metric)]
    ext = ext if per_method else ext[ext.strain == ALL]
    roles = df[df.phase.isin(["zero_day", "post"]) & (df.strain == ALL)][[*keys, "phase"]].drop_duplicates()
    out = ext.drop(columns="phase").merge(roles, on=keys)
    return out.rename(columns={"family": "set"})


def summary_table(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Per detector, set and method (`all`: pooled), one column per round: the zero-day version's
    score -> the post version's (mean over seeds), as display strings; empty without external rows."""
    from deepfake_arena.analysis.derived import over_seeds

    if df.empty or not (df.phase == PHASE).any():
        return pd.DataFrame()
    t = roles(df, metric)
    t = t.assign(method=t.strain.where(t.strain != ALL, "all (pooled)"))
    agg = over_seeds(t, ["detector", "strategy", "set", "method", "round", "phase"])
    rows = []
    for (det, strategy, ext_set, method), g in agg.groupby(
        ["detector", "strategy", "set", "method"], sort=True
    ):
        row: dict[str, Any] = {"detector": det, "strategy": strategy, "set": ext_set, "method": method}
        for r, gr in g.groupby("round", sort=True):
            v = dict(zip(gr.phase, gr.value, strict=True))
            zd = f"{v['zero_day']:.3f} -> " if "zero_day" in v else ""
            row[f"round {r}"] = zd + (f"{v['post']:.3f}" if "post" in v else "—")
        rows.append(row)
    out = pd.DataFrame(rows)
    pooled_first = out.method != "all (pooled)"
    return out.assign(_o=pooled_first).sort_values(["detector", "set", "_o", "method"]).drop(columns="_o")
