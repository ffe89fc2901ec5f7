"""deepfake-arena: simulate the arms race between deepfake generators and detectors.

The arena package owns orchestration (spec, world, round loop, Ray, store, results, plots, CLI)
and the low-level face geometry that generators and detectors share.

From a notebook: `run = arena.run("runs/quickstart.yaml", overrides={"rounds": 3})`, then
`run.results` (a DataFrame), `run.dir` and `run.plots()` (deepfake_arena.api). `import arena` stays light:
pandas, torch and Ray load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Run", "RoundEvent", "__version__", "open_run", "run"]

if TYPE_CHECKING:
    from deepfake_arena.api import RoundEvent, Run, open_run, run


def __getattr__(name: str) -> Any:
    if name in ("run", "open_run", "Run", "RoundEvent"):
        from deepfake_arena import api

        return getattr(api, name)
    raise AttributeError(f"module 'arena' has no attribute {name!r}")
