"""`make demo` installs no browser and no test tools; `make test` does (issue 27)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(target: str, tmp_path: Path) -> str:
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    out = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VIRTUAL_ENV={tmp_path / 'venv'}"],
        capture_output=True, text=True, check=True,
    )
    return out.stdout


def test_demo_installs_no_browser_and_no_test_tools(tmp_path):
    demo = _dry_run("demo", tmp_path)
    assert "chromium" not in demo
    assert ".[test]" not in demo
    assert "arena run runs/quickstart.yaml" in demo


def test_test_target_installs_the_browser_and_test_tools(tmp_path):
    test = _dry_run("test", tmp_path)
    assert "chromium" in test
    assert ".[test]" in test
    assert "pytest" in test


def test_ci_still_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
