"""deepfake-arena: simulate the arms race between deepfake generators and detectors.

The arena package owns orchestration (spec, world, round loop, Ray, store, results, plots, CLI)
and the low-level face geometry that generators and detectors share.
"""

__version__ = "0.1.0"
