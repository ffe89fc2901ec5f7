"""The README starts in one screen and its quoted quickstart figures are current (issue 27).

The cheap checks read docs/img/quickstart_figures.json, which `make readme-figures`
(benchmarks/readme_figures.py) writes with the plots; tests/test_quickstart.py re-derives the
figures from a fresh quickstart run and compares them with that file.
"""

from __future__ import annotations

import json
import re

from benchmarks import readme_figures, run_all  # the repository root is on the path, as for tests
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_readme_is_under_2500_words():
    assert len(README.split()) < 2500


def test_quick_start_comes_first_with_exactly_two_commands():
    sections = re.findall(r"^## (.+)$", README, flags=re.M)
    assert sections[0] == "Quick start"
    body = README.split("## Quick start", 1)[1]
    block = body.split("```", 2)[1]
    assert block.strip().splitlines() == ["make demo", "make test"]
    para = body.split("```", 2)[2].split("\n## ", 1)[0]
    for needed in ("source .venv/bin/activate", ".venv/bin/arena", "Python >= 3.11", "minutes"):
        assert needed in para, needed


def test_quoted_quickstart_figures_match_the_figures_file():
    fig = json.loads(readme_figures.FIGURES.read_text())
    assert readme_figures.quoted(README) == readme_figures.quotes(fig)


def test_pictures_exist_and_pointers_are_there():
    for img in re.findall(r"\]\((docs/img/[^)]+)\)", README):
        assert (REPO / img).is_file(), img
    for page in (
        "benchmarks/RESULTS.md",
        "benchmarks/EFFECTS.md",
        "docs/spec-reference.md",
        "docs/real-deepfakes.md",
        "docs/published-weights.md",
        "docs/real-deepfakes-replay.md",
        "docs/reliability.md",
        "docs/effects.md",
        "docs/how-it-works.md",
    ):
        assert f"({page})" in README, page
    assert "## What the arena reproduces" in README
    assert "DeBruine & Jones (2017)" in README  # the face photos' credit


def test_fill_replaces_placeholders_and_earlier_quotes():
    fig = {
        "wall_s": 60, "finetune_zero_day_min_auc": 0.8, "finetune_zero_day_min_round": 4,
        "finetune_post_that_round_auc": 0.9, "frozen_first_auc": 0.95, "frozen_last_auc": 0.7,
        "frozen_half_life": None,
    }
    text = readme_figures.fill("about QS_WALL s. QS_CAT_AND_MOUSE QS_HALF_LIFE", fig)
    assert readme_figures.quoted(text) == readme_figures.quotes(fig)
    assert "censored" in readme_figures.quoted(text)["QS_HALF_LIFE"]
    again = readme_figures.fill(text, {**fig, "wall_s": 70})
    assert readme_figures.quoted(again)["QS_WALL"] == "70" and again.count("QS_WALL -->") == 2


def test_run_all_keeps_the_hand_written_analysis(tmp_path):
    out = tmp_path / "RESULTS.md"
    block = f"{run_all.ANALYSIS_BEGIN}\n## Analysis\nkept words\n{run_all.ANALYSIS_END}"
    out.write_text(f"# old\n\n{block}\n\n## x.py\nold figures\n")
    kept = run_all.kept_analysis(out)
    assert "kept words" in kept and "old figures" not in kept
    assert run_all.kept_analysis(tmp_path / "none.md") == ""
    assert "## Analysis" in run_all.kept_analysis(REPO / "benchmarks" / "RESULTS.md")
