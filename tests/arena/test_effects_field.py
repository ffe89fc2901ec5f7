"""Effects 8-10 (deepfake_arena.analysis.effects.field) on hand-built rows with known answers, and the JPEG
re-encoding behind effect 9's rows (deepfake_arena.rounds.recompress). No simulation.

Per seed s (0, 1, 2), four detectors m (meso4), x (xception), p (spectrum), b (meso4, sbi):
- effect 8: seen (post) AUC m 0.95 > x 0.90 > p 0.85 > b 0.80 every round; sealed AUC in the
  reverse order (tau -1, the best seen is the worst sealed) or, with `same=True`, the same order
  (tau +1);
- effect 9: AUC at JPEG quality q is 0.40 + 0.005 q + 0.001 s for m (slope 0.05 per 10 points) and
  0.85 + 0.001 q for x (0.01 per 10 points): m falls faster;
- effect 10: zero-day AUC in rounds 2..4 falls 0.1 per round for p and stays 0.8 for m (slope
  difference -0.1); the population's share of spectral matching goes from 0 to 3/5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepfake_arena.analysis.effects import field
from deepfake_arena.analysis.effects.measure import NOT_MEASURED, SHOWN, DetectorInfo
from deepfake_arena.results import jpeg_phase, jpeg_quality
from deepfake_arena.rounds.recompress import reencode
from tests.arena.fake_runs import row

SEEDS = (0, 1, 2)
DETS = [
    DetectorInfo("m", "meso4", "finetune", "supervised"),
    DetectorInfo("x", "xception", "finetune", "supervised"),
    DetectorInfo("p", "spectrum", "finetune", "supervised"),
    DetectorInfo("b", "meso4", "frozen", "sbi", exposed=False),
]
SEEN = {"m": 0.95, "x": 0.90, "p": 0.85, "b": 0.80}


def _run(s: int, d: str, **kw: object) -> dict[str, object]:
    return row(run=f"seed{s}", seed=s, detector=d, **kw)


def _ranking_rows(same: bool = False) -> pd.DataFrame:
    rows = []
    for s in SEEDS:
        for d, seen in SEEN.items():
            sealed = seen - 0.2 if same else 1.55 - seen  # reversed: b best sealed, m worst
            for r in (1, 2, 3):
                rows.append(_run(s, d, round=r, generation=r, phase="post", value=seen))
                for v in ("v1", "v2"):  # per-strain sealed rows; the pooled one must not count
                    rows.append(_run(s, d, round=r, generation=r, phase="sealed", strain=v, value=sealed))
                rows.append(_run(s, d, round=r, generation=r, phase="sealed", value=0.0))
    return pd.DataFrame(rows)


def test_ranking_reversal_tau_sign_and_best_differs():
    rev = field.ranking_reversal(_ranking_rows(), DETS)
    assert rev.stat("tau").value == pytest.approx(-1.0) and rev.stat("best_differs").value == 1.0
    assert rev.verdict == SHOWN  # tau < 1 on every seed
    same = field.ranking_reversal(_ranking_rows(same=True), DETS)
    assert same.stat("tau").value == pytest.approx(1.0) and same.stat("best_differs").value == 0.0
    assert same.verdict != SHOWN


def test_ranking_needs_four_detectors_of_two_architectures():
    only_meso = [DetectorInfo(d.name, "meso4", d.strategy, d.training) for d in DETS]
    e = field.ranking_reversal(_ranking_rows(), only_meso)
    assert e.verdict == NOT_MEASURED and "2 architectures" in e.reason
    assert field.ranking_reversal(_ranking_rows(), DETS[:3]).verdict == NOT_MEASURED


def _jpeg_rows() -> pd.DataFrame:
    rows = []
    for s in SEEDS:
        for q in (95, 75, 50, 30):
            for r in (1, 2):
                rows.append(
                    _run(
                        s, "m", round=r, generation=r, phase=jpeg_phase(q), value=0.40 + 0.005 * q + 0.001 * s
                    )
                )
                rows.append(_run(s, "x", round=r, generation=r, phase=jpeg_phase(q), value=0.85 + 0.001 * q))
                rows.append(
                    _run(s, "x", round=r, generation=r - 1, phase=jpeg_phase(q), value=0.0)
                )  # not this round's
    return pd.DataFrame(rows)


def test_compression_slopes_point_up_with_quality_and_the_small_network_falls_faster():
    e = field.compression(_jpeg_rows(), "m", "x")
    assert e.stat("small_slope").value == pytest.approx(0.05)
    assert e.stat("large_slope").value == pytest.approx(0.01)
    assert e.stat("small_minus_large_slope").value == pytest.approx(0.04)
    assert e.stat("small_drop").value == pytest.approx(0.005 * 65)
    assert e.stat("small_minus_large_drop").reference == pytest.approx(0.2007 - 0.0606)
    assert e.verdict == SHOWN
    flipped = _jpeg_rows().assign(value=lambda d: 1.0 - d.value)  # AUC rising as quality falls
    assert field.compression(flipped, "m", "x").stat("small_slope").value == pytest.approx(-0.05)
    assert field.compression(flipped, "m", "x").verdict != SHOWN
    assert field.compression(_jpeg_rows(), "m", None).verdict == NOT_MEASURED


def test_spectral_evasion_slope_difference_and_gene_share():
    rows = []
    for s in SEEDS:
        for r in (1, 2, 3, 4):
            rows.append(_run(s, "p", round=r, generation=r, phase="zero_day", value=1.1 - 0.1 * r - 0.01 * s))
            rows.append(_run(s, "m", round=r, generation=r, phase="zero_day", value=0.8))
    pops = pd.DataFrame(
        [
            {"run": f"seed{s}", "round": r, "strain": f"a{k}", field.SPECTRAL_GENE: 0.3 * (r == 4 and k < 3)}
            for s in SEEDS
            for r in (1, 2, 3, 4)
            for k in range(5)
        ]
    )
    e = field.spectral_evasion(pd.DataFrame(rows), "p", "m", pops)
    assert e.stat("spectrum_minus_meso4_slope").value == pytest.approx(-0.1)
    assert e.stat("spectral_share_change").value == pytest.approx(0.6)
    assert e.stat("spectral_strength_change").value == pytest.approx(0.18)
    assert e.verdict == SHOWN
    assert field.spectral_evasion(pd.DataFrame(rows), "p", "m", None).stat("spectral_share_change") is None


def test_field_roles_come_from_the_spec():
    effs = field.measure_field(_ranking_rows(), DETS)
    assert [e.number for e in effs] == [8, 9, 10]
    assert (
        effs[1].detectors == "m (small) vs x (large)" and "jpeg_qualities" in effs[1].reason
    )  # no JPEG rows
    assert field._first(DETS, field.LARGE_ARCHS) == "x" and field._first(DETS, ("spectrum",)) == "p"
    assert field._first(DETS[3:], field.SMALL_ARCHS) is None  # meso4-sbi is not retrained


def test_jpeg_phase_names_round_trip():
    assert jpeg_phase(95) == "jpeg95" and jpeg_quality("jpeg30") == 30
    assert jpeg_quality("post") is None and jpeg_quality("jpeg") is None


def test_reencode_keeps_shape_and_loses_more_at_lower_quality():
    rng = np.random.default_rng(0)
    smooth = np.linspace(0, 255, 32, dtype=np.float64)[None, None, None, :].repeat(32, axis=2)
    images = np.clip(smooth + rng.normal(0, 30, (4, 3, 32, 32)), 0, 255).astype(np.uint8)
    hi, lo = reencode(images, 95), reencode(images, 30)
    assert hi.shape == images.shape and hi.dtype == np.uint8
    err = [np.abs(x.astype(float) - images).mean() for x in (hi, lo)]
    assert 0 < err[0] < err[1]
    with pytest.raises(ValueError, match="uint8"):
        reencode(images.astype(np.float32), 50)
    with pytest.raises(ValueError, match=r"\[1, 100\]"):
        reencode(images, 0)
