"""The install claims only this project's import root (issue 26): the wheel holds `deepfake_arena`
and nothing else, with arena/, generators/ and detectors/ inside it, so it installs beside the
unrelated PyPI projects called `arena`, `generators` and `detectors` without shadowing them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "arena": "deepfake_arena",
    "generators": "deepfake_arena/generators",
    "detectors": "deepfake_arena/detectors",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (found,) = out.glob("deepfake_arena-*.whl")
    return found


def test_the_wheel_has_one_import_root(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"deepfake_arena"}
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "arena = deepfake_arena.cli:main" in entry


def test_every_source_file_is_in_the_wheel(wheel: Path) -> None:
    """A new room missing from pyproject's package list would install without its files."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"{inside}/{f.relative_to(ROOT / folder).as_posix()}"
        for folder, inside in FOLDERS.items()
        for f in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in f.parts
    }
    assert expected - names == set()
    assert len(expected) > 100


def test_the_package_list_names_every_folder() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        (inside + "/" + d.relative_to(ROOT / folder).as_posix()).rstrip("/.").replace("/", ".")
        for folder, inside in FOLDERS.items()
        for d in [ROOT / folder, *(ROOT / folder).rglob("*")]
        if d.is_dir() and (d / "__init__.py").is_file()
    }
    assert listed == folders


def test_it_installs_beside_the_other_projects_names(wheel: Path, tmp_path: Path) -> None:
    """Stand-ins for the PyPI packages `arena`, `generators`, `detectors` stay importable beside it."""
    site = tmp_path / "site"
    for other in ("arena", "generators", "detectors"):
        (site / other).mkdir(parents=True)
        (site / other / "__init__.py").write_text(f"WHO = 'the other project {other}'\n")
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import arena, generators, detectors, deepfake_arena.spec, deepfake_arena.detectors.registry;"
        "assert arena.WHO.endswith('arena') and generators.WHO.endswith('generators');"
        "assert detectors.WHO.endswith('detectors');"
        f"assert deepfake_arena.spec.__file__.startswith({str(site)!r})"
    )
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(site)}, capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
