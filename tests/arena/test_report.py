"""`arena report` on hand-built runs: a self-contained HTML file, checked as text and rendered in
headless Chromium (every figure decoded, nothing logged to the console); the screenshot is kept
under test-artifacts/ (git-ignored)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys

import pytest

from deepfake_arena.analysis.report import default_out
from deepfake_arena.store.run_info import LONDON_SET_CREDIT, conditions, expand_run_dirs, world_credit
from tests.arena.fake_runs import make_run
from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts"
DRAWN_PER_CONDITION = 8  # every plot, sealed rows included
DRAWN = 2 * DRAWN_PER_CONDITION + 1  # two conditions side by side; the photo run's extractor plot


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser_args(profile) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # any network request would fail and log
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    seeds = [make_run(root, f"ft-seed{s}", seed=s, rounds=4, sealed=True) for s in (0, 1)]
    other = make_run(
        root,
        "photos",
        rounds=4,
        sealed=True,
        world={"kind": "folder", "resolution": 16},
        extra_spec={"variant": "b"},
        extractor=True,
    )
    out = root / "out" / "report.html"
    argv = ["report", *map(str, [*seeds, other]), "--out", str(out)]
    code = (
        "import sys; from deepfake_arena.cli import main; "
        + f"rc = main({argv!r}); sys.exit(rc or 9 * ('torch' in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # 9: the report imported torch
    assert proc.stdout.strip() == str(out)
    return out, out.read_text()


def test_report_is_self_contained(report):
    _, text = report
    srcs = re.findall(r'\b(?:src|href)="([^"]*)"', text)
    assert srcs and all(s.startswith("data:") for s in srcs), [
        s[:40] for s in srcs if not s.startswith("data:")
    ]
    assert not re.search(r"https?://", text)
    imgs = re.findall(r"<img [^>]*src=\"data:image/png;base64,", text)
    assert len(imgs) == DRAWN
    assert text.count('download="') == DRAWN  # each plot's CSV embedded
    # The extractor's plot, drawn for the photo run only, sits beside a note for the other.
    section = text[text.index("<h2>Face extractor misses</h2>") :]
    assert section.count("<img ") == 1 and "not drawn for these runs" in section


def test_report_content(report):
    _, text = report
    assert "ft (2 seeds)" in text and "photos" in text
    assert "differs from the others in: <code>variant=" in text
    assert "half-life (rounds)" in text and "forward transfer" in text and "vault gap" in text
    # fz: half-life 3 rounds in both seeds; ft forward transfer 0.4 and 0.3: t interval 0.35 +- 12.706 * 0.05
    assert "3.00 [3.00, 3.00]" in text and "0.350 [-0.285, 0.985]" in text
    assert "EXTERNAL" not in text  # the references live in the vault figure, not in the page text
    assert text.count(html.escape(LONDON_SET_CREDIT)) == 1  # next to the photo run's faces only


def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not found (Debian: apt-get install chromium; `make test` installs it as root)")
    out, _ = report
    url = out.resolve().as_uri()
    dom = subprocess.run(
        [browser, *_browser_args(tmp_path / "p1"), "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert f'data-figures="{DRAWN}/{DRAWN}"' in dom.stdout
    assert dom.stdout.count('data-decoded="yes"') == DRAWN
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    done = subprocess.run(
        [browser, *_browser_args(tmp_path / "p2"), "--window-size=1600,5000", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_credit_line_comes_from_run_metadata(tmp_path):
    synth = make_run(tmp_path, "synth", rounds=1)
    photos = make_run(tmp_path, "photos", rounds=1, world={"kind": "folder"})
    own = make_run(tmp_path, "own", rounds=1, world={"kind": "folder", "credit": "My lab's photos, CC0"})
    assert world_credit(synth) is None
    assert world_credit(photos) == LONDON_SET_CREDIT
    assert world_credit(own) == "My lab's photos, CC0"


def test_conditions_group_seeds_and_keep_order(tmp_path):
    a0, a1 = (make_run(tmp_path, f"a-seed{s}", seed=s, rounds=1) for s in (0, 1))
    b = make_run(tmp_path, "b", rounds=1, extra_spec={"variant": 2})
    conds = conditions(expand_run_dirs([b, a0, a1]))
    assert [c.label for c in conds] == ["b", "a (2 seeds)"]
    assert conds[1].seeds == [0, 1]
    assert default_out([a0]) == a0 / "report" / "report.html"


def test_report_errors_are_one_line(tmp_path):
    run = make_run(tmp_path, "x", rounds=1)
    for args in ([str(tmp_path / "nope")], [str(run), str(run)]):
        proc = subprocess.run(
            [sys.executable, "-m", "deepfake_arena.cli", "report", *args, "--out", str(tmp_path / "r.html")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("arena: error:")
