"""Numbers that do not mislead (issue 27): a censored half-life says so in words, and an effect
measured on one seed says a CI needs several seeds instead of printing "[+nan, +nan]". (The ECE
interval that holds its estimate is tested in test_metrics.py.)"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deepfake_arena.analysis.effects import measure as effects
from deepfake_arena.analysis.effects.figures import ci_text, plot_effect
from deepfake_arena.analysis.report import censored_half_life
from tests.arena.test_effects import _rows


def test_a_censored_half_life_reads_as_censored_not_as_a_number():
    text = censored_half_life(float("nan"), "—", 1, 1, 1.0)
    assert text.startswith("censored") and "1 round" in text and ">" not in text
    some = censored_half_life(3.0, "3.00 [2.50, 3.50]", 2, 5, 4.0)
    assert some.startswith("3.00") and "censored in 2 of 5 seeds" in some and ">" not in some


def test_ci_text():
    assert ci_text(0.1, 0.2, 5) == "[+0.100, +0.200]"
    assert ci_text(math.nan, math.nan, 1) == "(1 seed: a CI needs several seeds)"
    assert "nan" not in ci_text(math.nan, math.nan, 3)


def test_one_seed_effect_figure_says_a_ci_needs_several_seeds(tmp_path, monkeypatch):
    eff = effects.decay_recovery(pd.DataFrame(_rows(0)), ["ft"])  # one seed
    assert eff.primary is not None and not np.isfinite(eff.primary.ci_low)
    titles: list[str] = []
    import matplotlib.figure

    real = matplotlib.figure.Figure.suptitle

    def spy(self, t, *a, **k):
        titles.append(t)
        return real(self, t, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle", spy)
    path = plot_effect(eff, tmp_path)
    assert str(path).endswith(".png")
    assert titles and "nan" not in titles[0] and "a CI needs several seeds" in titles[0]
