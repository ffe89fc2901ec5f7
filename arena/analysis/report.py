"""`arena report`: one self-contained HTML file for one or several runs (or sweeps).

Runs whose specs differ only in the seed are one condition (means with a CI over seeds);
different conditions sit side by side in every section. Images and CSVs are embedded as data:
URIs, styles and the one script inline, so the file opens offline and makes no network request.
Reads only the results files (no torch).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfake_arena.analysis import derived as analysis
from deepfake_arena.analysis.external import summary_table as ext_summary
from deepfake_arena.analysis.plots.style import Palette, Plot, label
from deepfake_arena.errors import ArenaUserError
from deepfake_arena.store.atomic import write_text_atomic
from deepfake_arena.store.ledger import committed_rounds
from deepfake_arena.store.run_info import Condition, conditions, expand_run_dirs, world_credit

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1800px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.row{display:flex;gap:16px;overflow-x:auto;align-items:flex-start}
figure{margin:0;flex:1 1 0;min-width:420px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#555;margin-top:4px}.note{color:#8a6d3b;font-size:13px}
.credit{font-size:12px;color:#333;font-style:italic}pre{font-size:11px;background:#f8f8f8;padding:8px;overflow:auto}
.muted{color:#777;font-size:12px}
"""

# Marks every figure decoded (or not) into the DOM, so a headless browser check can read it.
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img'), ok = 0;
  imgs.forEach(function (im) {
    var good = im.complete && im.naturalWidth > 0;
    im.setAttribute('data-decoded', good ? 'yes' : 'no');
    if (good) { ok++; }
  });
  document.body.setAttribute('data-figures', ok + '/' + imgs.length);
  if (ok < imgs.length) { console.error('report: ' + (imgs.length - ok) + ' figure(s) did not decode'); }
});
"""

# Nothing may load from anywhere but the page itself (data: images, inline style), and the only
# script that may run is the one above, named by its hash: an injected handler or <script> is not.
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode("ascii")
_CSP = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'"

HEADLINE = [
    ("half_life", "half-life (rounds)", "rounds until zero-day {hl} falls below half its post-retrain value"),
    ("forward_transfer", "forward transfer", "mean {m} of a version on generations it never saw (j > i)"),
    ("forgetting", "forgetting", "mean {m} lost on earlier generations by the last version"),
    ("decay_area", "area under decay", "mean {m} over gaps 0..window after training"),
    ("vault_gap", "vault gap", "{m} on seen minus sealed (vault) families"),
]


@dataclass
class Section:
    """One condition of the report: its runs, results and plots."""

    cond: Condition
    df: pd.DataFrame
    plots: list[Plot] = field(default_factory=list)
    credit: str | None = None


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _fmt(value: float, lo: float, hi: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


def headline_table(
    df: pd.DataFrame, metric: str = "auc", half_life_metric: str = "tpr_at_1fpr"
) -> pd.DataFrame:
    """Per detector: the headline quantities as display strings (mean [95% CI over seeds])."""
    agg = analysis.over_seeds(analysis.derived(df, metric, half_life_metric))
    dets = df[["detector", "strategy"]].drop_duplicates().sort_values("detector")
    rows = []
    for det, strategy in dets.itertuples(index=False):
        row: dict[str, Any] = {"detector": det, "strategy": strategy}
        for q, title, _ in HEADLINE:
            hit = agg[(agg.detector == det) & (agg.quantity == q)]
            if hit.empty:
                row[title] = "— (no sealed rows yet)" if q == "vault_gap" else "—"
                continue
            h = hit.iloc[0]
            text = _fmt(h.value, h.ci_low, h.ci_high, 2 if q == "half_life" else 3)
            if q == "half_life" and h.n_missing:
                text = censored_half_life(h.value, text, int(h.n_missing), int(h.n_runs), h.censored_at)
            row[title] = text
        rows.append(row)
    return pd.DataFrame(rows)


def censored_half_life(value: float, text: str, n_missing: int, n_runs: int, censored_at: float) -> str:
    """A half-life some seeds never reached, in words: a table of numbers read "> 1" as a value."""
    rounds = "round" if censored_at == 1 else "rounds"
    if not np.isfinite(value):
        return f"censored: not reached in the {censored_at:g} {rounds} observed"
    return f"{text}; censored in {n_missing} of {n_runs} seeds (not reached in {censored_at:g} {rounds})"


def _table_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            num = isinstance(v, int | float | np.number)
            text = f"{v:.3f}" if isinstance(v, float | np.floating) else str(v)
            cells.append(f"<td{' class=num' if num else ''}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(d, list) and d and all(isinstance(x, dict) for x in d):
        out = {}
        for i, v in enumerate(d):
            out.update(_flat(v, f"{prefix}{i}."))
        return out
    return {prefix.rstrip("."): d}


def _differences(conds: Sequence[Condition]) -> list[str]:
    """Per condition, the spec settings in which it differs from the others."""
    flats = [_flat({k: v for k, v in c.spec.items() if k not in ("seed", "seeds")}) for c in conds]
    keys = sorted({k for f in flats for k in f})
    varying = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]
    return [", ".join(f"{k}={json.dumps(f.get(k))}" for k in varying) for f in flats]


def _runs_html(sec: Section, diff: str) -> str:
    items = []
    for d in sec.cond.run_dirs:
        total = int(json.loads((d / "spec.resolved.json").read_text()).get("rounds", 0))
        last = committed_rounds(d, deep=False).last
        state = "complete" if last >= total else "in progress or stopped; committed rounds only"
        items.append(f"<li><code>{html.escape(str(d))}</code>: {last} of {total} rounds ({state})</li>")
    spec = html.escape(json.dumps(sec.cond.spec, indent=2, sort_keys=True))
    seeds = ", ".join(map(str, sec.cond.seeds))
    differs = f"<p>differs from the others in: <code>{html.escape(diff)}</code></p>" if diff else ""
    return (
        f"<h3>{html.escape(sec.cond.label)}</h3>{differs}<p class=muted>seeds: {seeds}</p>"
        f"<ul>{''.join(items)}</ul><details><summary>spec (resolved)</summary><pre>{spec}</pre></details>"
    )


def _figure_html(sec: Section, plot: Plot, several: bool) -> str:
    caption = html.escape(sec.cond.label) + ": " if several else ""
    if plot.path is None:
        note = f"{caption}{html.escape(plot.title)} skipped: {html.escape(plot.note)}"
        return f"<figure><p class=note>{note}</p></figure>"
    alt = html.escape(f"{plot.title} ({sec.cond.label})")
    img = f'<img alt="{alt}" src="{_data_uri(plot.path, "image/png")}">'
    assert plot.csv is not None
    href = _data_uri(plot.csv, "text/csv")
    csv = f'<a download="{html.escape(plot.csv.name)}" href="{href}">numbers drawn (CSV)</a>'
    credit = ""
    if plot.name == "samples" and sec.credit:
        credit = f"<div class=credit>Face images: {html.escape(sec.credit)}</div>"
    return (
        f"<figure>{img}{credit}<figcaption>{caption}{html.escape(plot.title)} · {csv}</figcaption></figure>"
    )


def render(sections: Sequence[Section], metric: str, half_life_metric: str) -> str:
    several = len(sections) > 1
    diffs = _differences([s.cond for s in sections]) if several else [""]
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv=Content-Security-Policy content="{_CSP}">',
        f"<title>deepfake-arena report</title><style>{_CSS}</style><script>{_SCRIPT}</script></head><body>",
        "<h1>deepfake-arena report</h1>",
        f"<p class=muted>generated {html.escape(time.strftime('%Y-%m-%d %H:%M:%S'))}; "
        f"scores in {html.escape(label(metric))} unless said; "
        f"half-life in rounds of {html.escape(label(half_life_metric))}; "
        "[..] = 95% Student t CI over seeds.</p>",
        "<h2>Runs</h2>",
        *(_runs_html(s, d) for s, d in zip(sections, diffs, strict=True)),
        "<h2>Headline numbers</h2>",
        "<ul class=muted>"
        + "".join(
            f"<li><b>{t}</b>: {html.escape(h.format(m=label(metric), hl=label(half_life_metric)))}</li>"
            for _, t, h in HEADLINE
        )
        + "</ul>",
    ]
    for s in sections:
        head = headline_table(s.df, metric, half_life_metric)
        parts.append(f"<h3>{html.escape(s.cond.label)}</h3>{_table_html(head)}")
        debut = analysis.family_debut(s.df)
        debut = debut[debut.zero_day.notna()] if len(debut) else debut
        if len(debut):
            show = analysis.over_seeds(debut, ["detector", "family", "debut_round"], "zero_day")
            intro = f"<p>Zero-day {label('tpr_at_1fpr')} of each family in its debut round:</p>"
            parts.append(intro + _table_html(show))
    external = [(s, ext_summary(s.df, metric)) for s in sections]
    if any(len(t) for _, t in external):
        parts.append(
            "<h2>External evaluation: real deepfakes</h2><p class=muted>Labelled facesets of real "
            f"deepfakes (<code>evaluation.external</code>), {label(metric)} per round of the deployed "
            "(zero-day) version -&gt; the retrained (post) one, per method (every real face against "
            "that method's fakes) and pooled; the cat-and-mouse plot draws the pooled lines dashed.</p>"
        )
        for s, t in external:
            parts.append(f"<h3>{html.escape(s.cond.label)}</h3>")
            parts.append(_table_html(t) if len(t) else "<p class=note>no external sets in these runs</p>")
    # By name: a plot only some runs have (the extractor's) sits beside a note for the others.
    titles = {p.name: p.title for s in sections for p in s.plots}
    for name, title in titles.items():
        parts.append(f"<h2>{html.escape(title)}</h2><div class=row>")
        for s in sections:
            plot = next((p for p in s.plots if p.name == name), None)
            plot = plot or Plot(name, title, None, "not drawn for these runs")
            parts.append(_figure_html(s, plot, several))
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def default_out(paths: Sequence[str | Path]) -> Path:
    """One run or sweep: its report/report.html (next to its plots); several: ./report.html."""
    return Path(paths[0]) / "report" / "report.html" if len(paths) == 1 else Path("report.html")


def build_report(
    paths: Sequence[str | Path],
    out: str | Path,
    metric: str = "auc",
    half_life_metric: str = "tpr_at_1fpr",
) -> Path:
    """Write the report of the runs (or sweeps) at `paths` to `out` (HTML) and return its path."""
    from deepfake_arena.analysis.plots.core import check_metric, write_plots
    from deepfake_arena.analysis.plots.population import POP_COLUMNS, load_populations
    from deepfake_arena.store.ledger import CorruptFile

    check_metric(metric)
    check_metric(half_life_metric)
    run_dirs = expand_run_dirs(paths)
    sections = []
    for cond in conditions(run_dirs):
        df = analysis.load_runs(cond.run_dirs)
        if df.empty:
            raise ArenaUserError(f"{cond.label}: no committed rounds yet; nothing to report")
        sections.append(Section(cond, df, credit=world_credit(cond.run_dirs[0])))
    try:
        pops = load_populations(run_dirs)
    except CorruptFile:  # only the colours of families depend on it here; the plots say what is damaged
        pops = pd.DataFrame(columns=POP_COLUMNS)
    palette = Palette.from_table(
        pd.concat([s.df for s in sections], ignore_index=True), pops.family.unique() if len(pops) else ()
    )
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="arena-report-") as tmp:
        for k, sec in enumerate(sections):
            sec.plots = write_plots(sec.cond.run_dirs, Path(tmp) / str(k), metric, palette, df=sec.df)
        text = render(sections, metric, half_life_metric)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, text)
    return out
