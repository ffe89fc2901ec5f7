"""Reading and writing the files of one round: detector versions, the kept eval set,
the population. Tensors go to safetensors (no pickle anywhere), records to JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from deepfake_arena.store.atomic import write_text_atomic

EVAL_SET = "eval_set.safetensors"
POPULATION = "population.json"


def save_detector(path: Path, weights: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    tensors = {k: np.asarray(v, order="C") for k, v in weights.items()}  # keeps 0-d arrays 0-d
    save_file(tensors, str(path), metadata={"arena": json.dumps(meta, sort_keys=True)})


def load_detector(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        meta = json.loads((fh.metadata() or {}).get("arena", "{}"))
    return load_file(str(path)), meta


def memory_parts(memory: dict[str, np.ndarray]) -> list[str]:
    """The parts of a strategy memory (keys are ``"<part>/<key>"``), sorted."""
    return sorted({key.split("/", 1)[0] for key in memory})


def save_memory(folder: Path, name: str, memory: dict[str, np.ndarray]) -> list[str]:
    """Write each part of a detector's strategy memory to ``<folder>/<name>.<part>.safetensors``
    (next to its weights); returns the parts written, to be recorded in the weights' metadata."""
    parts = memory_parts(memory)
    for part in parts:
        if not part.replace("_", "").isalnum():
            raise ValueError(f"memory part {part!r} must be alphanumeric (it names a file)")
        prefix = part + "/"
        tensors = {
            k[len(prefix) :]: np.asarray(v, order="C") for k, v in memory.items() if k.startswith(prefix)
        }
        save_file(tensors, str(folder / f"{name}.{part}.safetensors"))
    return parts


def load_memory(folder: Path, name: str, parts: list[str]) -> dict[str, np.ndarray]:
    """The strategy memory written by :func:`save_memory` (``parts`` from the weights' metadata)."""
    memory: dict[str, np.ndarray] = {}
    for part in parts:
        for key, value in load_file(str(folder / f"{name}.{part}.safetensors")).items():
            memory[f"{part}/{key}"] = value
    return memory


def save_eval_set(
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    strain_index: np.ndarray,
    strains: list[dict[str, str]],
) -> None:
    """The generation's kept evaluation faces, scored again by later versions (phase `past`)."""
    save_file(
        {
            "images": np.ascontiguousarray(images, dtype=np.uint8),
            "labels": np.ascontiguousarray(labels, dtype=np.uint8),
            "strain_index": np.ascontiguousarray(strain_index, dtype=np.int32),
        },
        str(path),
        metadata={"strains": json.dumps(strains)},
    )


def load_eval_set(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, str]]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        strains = json.loads((fh.metadata() or {})["strains"])
    data = load_file(str(path))
    return data["images"], data["labels"], data["strain_index"], strains


def save_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True))


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())
