"""A detector architecture from another installed package, registered through an entry point.

The test writes a small plugin package, installs it with pip into a folder of its own (never into
the project's environment), and imports the arena with that folder on the path in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
from dataclasses import dataclass
from typing import ClassVar

from torch import nn


@dataclass(frozen=True)
class TinyConfig:
    width: int = 4


class TinyNet(nn.Module):
    """A detector architecture that lives outside the arena's repository."""

    config_class: ClassVar[type[TinyConfig]] = TinyConfig

    def __init__(self, config: TinyConfig | None = None) -> None:
        super().__init__()
        self.config = config or TinyConfig()
        self.body = nn.Sequential(
            nn.Conv2d(3, self.config.width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(self.config.width, 1),
        )

    def forward(self, x):
        return self.body(x).squeeze(-1)
'''

CHECK = '''
import json, torch
from deepfake_arena.detectors import DETECTORS, Detector, TrainConfig
names = DETECTORS.names()
det = Detector("tiny-plugin-net", {"width": 3}, seed=0)
scores = det.score(torch.rand(5, 3, 32, 32))
u8 = lambda n: (torch.rand(n, 3, 32, 32) * 255).to(torch.uint8)
report = det.fit(u8(8), u8(8), TrainConfig(steps=3, batch_size=4, val_fraction=0.0), seed=0)
again = Detector("tiny-plugin-net", {"width": 3}, seed=0)
again.load_state_dict(det.state_dict())
same = torch.equal(again.score(torch.ones(2, 3, 32, 32)), det.score(torch.ones(2, 3, 32, 32)))
in01 = bool(((scores >= 0) & (scores <= 1)).all())
print(json.dumps({"names": names, "shape": list(scores.shape), "in01": in01, "round_trip": same}))
'''


def install_plugin(tmp_path: Path, entry: str, dist: str = "tiny-arena-plugin") -> Path:
    src = tmp_path / "src"
    (src / "tiny_arena_plugin").mkdir(parents=True)
    (src / "tiny_arena_plugin" / "__init__.py").write_text(PLUGIN)
    (src / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "0.0.1"

            [project.entry-points."deepfake_arena.detectors"]
            {entry}

            [tool.setuptools]
            packages = ["tiny_arena_plugin"]
            """
        )
    )
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(src)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return target


def run_with(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_a_plugin_package_adds_a_detector(tmp_path: Path) -> None:
    site = install_plugin(tmp_path, '"tiny-plugin-net" = "tiny_arena_plugin:TinyNet"')
    out = run_with(site, CHECK)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "tiny-plugin-net" in got["names"] and "meso4" in got["names"]
    assert got["shape"] == [5] and got["in01"] and got["round_trip"]
    # without the plugin on the path, the name is unknown and the error lists the valid ones
    plain = subprocess.run(
        [sys.executable, "-c", "from detectors import DETECTORS; DETECTORS.get('tiny-plugin-net')"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert plain.returncode != 0 and "valid choices" in plain.stderr and "meso4" in plain.stderr


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('"broken-net" = "tiny_arena_plugin.missing:Net"', "detector architecture plugin broken-net"),
        ('"meso4" = "tiny_arena_plugin:TinyNet"', "'meso4' is already registered"),
    ],
)
def test_a_bad_plugin_fails_naming_its_package(tmp_path: Path, entry: str, message: str) -> None:
    site = install_plugin(tmp_path, entry)
    out = run_with(site, "from detectors import DETECTORS; DETECTORS.names()")
    assert out.returncode != 0
    assert message in out.stderr and "tiny-arena-plugin" in out.stderr
