"""The HTML report cannot be made to run a script (issue 25 #4): metric names are checked against
the arena's own, what is written into the page is escaped, and the page's script policy allows
only its own script, by hash."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from deepfake_arena.analysis.report import Section, build_report, render
from deepfake_arena.cli import main
from deepfake_arena.results import load
from deepfake_arena.store.run_info import conditions
from tests.arena.fake_runs import make_run

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs"), "run", rounds=3)


@pytest.mark.parametrize("metric", [EVIL, "AUC", "f1", "ece"])  # ece: known, but not in this run
def test_report_and_plot_refuse_unknown_metrics(run, tmp_path, capsys, metric):
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(out), "--metric", metric]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metric" in err
    assert not out.exists()
    assert main(["plot", str(run), "--metric", metric]) == 1
    assert "metric" in capsys.readouterr().err


def test_render_escapes_what_it_writes(run):
    cond = conditions([run])[0]
    page = render([Section(cond, load(run))], EVIL, "tpr_at_1fpr")
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_script_policy_names_the_one_script_by_hash(run, tmp_path):
    page = build_report([run], tmp_path / "r.html").read_text()
    policy = re.search(r'Content-Security-Policy content="([^"]*)"', page).group(1)
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in script_src
