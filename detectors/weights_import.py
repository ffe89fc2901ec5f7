"""Published detector weights mapped onto an arena architecture, so a detector can start a run
as the detector someone deployed (a detector spec's ``weights``).

Two formats:

- PyTorch state dicts (``.pth``, ``.pt``, ``.bin``, read with ``torch.load(weights_only=True)``:
  nothing is unpickled beyond tensors and plain containers) and safetensors files. The keys
  must be the architecture's own, after stripping wrapper prefixes (``module.``, ``model.``...);
  a checkpoint dict holding the state dict under ``state_dict``/``model``/``model_state_dict``
  is unwrapped. Any other difference is an error that lists the missing, unexpected and
  mis-shaped keys.
- Keras 2 HDF5 weights (``save_weights`` or a whole-model ``.h5``) of the MesoNet family, read
  with h5py onto ``meso4-published`` / ``mesoinception4-published``
  (:mod:`deepfake_arena.detectors.mesonet_published`): conv kernels HWIO -> OIHW, dense kernels transposed,
  the first dense layer's inputs reordered from Keras' (H, W, C) flattening to torch's (C, H, W),
  BatchNorm gamma/beta/moving mean/moving variance to weight/bias/running mean/running var.
  Layers are matched per kind (conv, BN, dense) in the order Keras numbered them
  (``conv2d_1``, ``conv2d_2``... or tf.keras' ``conv2d``, ``conv2d_1``...).

The result is the architecture's state dict, checked by loading it strictly; the arena then
stores it in the run as safetensors like every other detector version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from deepfake_arena.detectors.registry import build_detector_network

Format = Literal["auto", "torch", "safetensors", "keras"]
FORMATS: tuple[str, ...] = ("auto", "torch", "safetensors", "keras")
TORCH_SUFFIXES = (".pth", ".pt", ".bin")
KERAS_SUFFIXES = (".h5", ".hdf5")
PREFIXES = ("module.", "model.", "network.", "net.", "_orig_mod.")
MAX_BYTES = 2 * 1024**3  # a weight file larger than this is not a detector we can hold
_SHOWN = 8  # mismatches listed per kind in an error


class WeightsError(ValueError):
    """A weight file that is missing, unreadable or does not fit the architecture (one line)."""


def file_format(path: Path, fmt: str = "auto") -> str:
    """``torch``, ``safetensors`` or ``keras``: ``fmt`` itself, or guessed from the suffix."""
    if fmt not in FORMATS:
        raise WeightsError(f"unknown weights format {fmt!r}; valid choices: {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        return "torch"
    if suffix == ".safetensors":
        return "safetensors"
    if suffix in KERAS_SUFFIXES:
        return "keras"
    raise WeightsError(
        f"{path}: cannot tell the format from the suffix {suffix!r} "
        f"(torch: {', '.join(TORCH_SUFFIXES)}; .safetensors; keras: {', '.join(KERAS_SUFFIXES)}); "
        "set weights.format"
    )


def import_weights(
    arch: str, arch_config: Mapping[str, Any] | None, path: str | Path, fmt: str = "auto"
) -> dict[str, torch.Tensor]:
    """The state dict of architecture ``arch`` (with ``arch_config``) read from a weight file.

    Returns:
        CPU tensors keyed and shaped exactly as ``build_detector_network(arch, arch_config)``'s
        state dict (loading it strictly has been checked).
    Raises:
        WeightsError: the file is missing, too large, unreadable, or does not fit ``arch``.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise WeightsError(f"{path}: {size / 1024**3:.1f} GiB is over the {MAX_BYTES // 1024**3} GiB limit")
    kind = file_format(path, fmt)
    network = build_detector_network(arch, arch_config)
    if kind == "keras":
        state = _from_keras(network, arch, path)
    else:
        raw = _read_torch(path) if kind == "torch" else _read_safetensors(path)
        state = _match_keys(network, arch, path, raw)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # pragma: no cover - the checks above should catch every misfit
        raise WeightsError(f"{path} does not fit detector {arch!r}: {exc}") from None
    return {k: v.detach().cpu().contiguous().clone() for k, v in network.state_dict().items()}


# ----------------------------------------------------------------------------------- torch files


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, disallowed globals: all one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path}: not a readable PyTorch state dict ({first})") from None
    return _tensors_of(obj, path)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types on a bad header
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None


def _tensors_of(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The flat name -> tensor mapping in a loaded object (unwrapping a checkpoint dict)."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model", "net"):
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                obj = inner
                break
        tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
    raise WeightsError(f"{path}: holds no state dict (a mapping of parameter names to tensors)")


def _strip_prefixes(keys: set[str], own: set[str]) -> str:
    """The wrapper prefix (possibly several, e.g. ``module.model.``) that every key carries
    while the architecture's keys do not; '' when none."""
    prefix = ""
    while keys and not {k[len(prefix) :] for k in keys} <= own:
        found = next((p for p in PREFIXES if all(k.startswith(prefix + p) for k in keys)), None)
        if found is None:
            break
        prefix += found
    return prefix


def _match_keys(
    network: nn.Module, arch: str, path: Path, raw: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    own = network.state_dict()
    prefix = _strip_prefixes(set(raw), set(own))
    state = {k[len(prefix) :]: v for k, v in raw.items()}
    # BatchNorm's step counter is bookkeeping, not a weight: files from elsewhere may lack it
    for k, v in own.items():
        if k.endswith("num_batches_tracked") and k not in state:
            state[k] = v.clone()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(v.shape)}, {arch} {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        raise WeightsError(
            f"{path} does not fit detector {arch!r}"
            + (f" (after stripping prefix {prefix!r})" if prefix else "")
            + ": "
            + "; ".join(
                f"{what} ({len(items)}): {', '.join(items[:_SHOWN])}{', ...' if len(items) > _SHOWN else ''}"
                for what, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes))
                if items
            )
        )
    return {k: v.to(own[k].dtype) for k, v in state.items()}


# ----------------------------------------------------------------------------------- Keras HDF5


_BN_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")


def read_keras_layers(path: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The layers with weights of a Keras 2 HDF5 weights file, in file order, as
    ``(layer name, {short weight name: array})`` (short: ``kernel``, ``bias``, ``gamma``...)."""
    import h5py

    try:
        fh = h5py.File(str(path), "r")
    except OSError as exc:
        raise WeightsError(f"{path}: not a readable HDF5 file ({exc})") from None
    with fh:
        group = fh.get("model_weights", fh)
        if "layer_names" not in group.attrs:
            raise WeightsError(
                f"{path}: not a Keras 2 HDF5 weights file (no 'layer_names' attribute; Keras 3 "
                "'.weights.h5' files are not supported: re-save with a Keras 2 / tf.keras save_weights)"
            )
        layers = []
        for raw_name in group.attrs["layer_names"]:
            name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
            if name not in group:
                raise WeightsError(f"{path}: layer {name!r} is listed but has no group")
            g = group[name]
            weights: dict[str, np.ndarray] = {}
            for raw_w in g.attrs.get("weight_names", []):
                wname = raw_w.decode() if isinstance(raw_w, bytes) else str(raw_w)
                if wname not in g:
                    raise WeightsError(f"{path}: weight {wname!r} of layer {name!r} is missing")
                short = wname.rsplit("/", 1)[-1].split(":", 1)[0]
                weights[short] = np.asarray(g[wname][()], dtype=np.float32)
            if weights:
                layers.append((name, weights))
    return layers


def _kind(name: str, weights: Mapping[str, np.ndarray], path: Path) -> str:
    keys = set(weights)
    if keys == {"kernel", "bias"} or keys == {"kernel"}:
        ndim = weights["kernel"].ndim
        if ndim == 4:
            return "conv"
        if ndim == 2:
            return "dense"
    if keys == set(_BN_NAMES):
        return "bn"
    raise WeightsError(
        f"{path}: layer {name!r} with weights {sorted(keys)} is not a Conv2D, Dense or "
        "BatchNormalization layer of the MesoNet family"
    )


def _creation_order(names: list[str]) -> list[int]:
    """Indices of ``names`` sorted the way Keras numbered them (``x`` < ``x_1`` < ``x_2`` ...);
    file order when the names do not follow one numbering."""
    parsed = [re.fullmatch(r"(.*?)(?:_(\d+))?", n) for n in names]
    bases = {m.group(1) for m in parsed if m}
    if len(bases) != 1 or not all(parsed):
        return list(range(len(names)))
    numbers = [int(m.group(2) or 0) for m in parsed if m]
    if len(set(numbers)) != len(numbers):
        return list(range(len(names)))
    return sorted(range(len(names)), key=lambda i: numbers[i])


def _from_keras(network: nn.Module, arch: str, path: Path) -> dict[str, torch.Tensor]:
    targets = getattr(network, "keras_layers", None)
    if targets is None:
        raise WeightsError(
            f"Keras weights map only onto the published MesoNet presets (meso4-published, "
            f"mesoinception4-published); detector {arch!r} has another layer order"
        )
    layers = read_keras_layers(path)
    by_kind: dict[str, list[tuple[str, dict[str, np.ndarray]]]] = {"conv": [], "bn": [], "dense": []}
    for name, weights in layers:
        by_kind[_kind(name, weights, path)].append((name, weights))
    ordered = {k: [v[i] for i in _creation_order([n for n, _ in v])] for k, v in by_kind.items()}
    wanted: dict[str, list[nn.Module]] = {"conv": [], "bn": [], "dense": []}
    for kind, module in targets():
        wanted[kind].append(module)
    counts = [
        f"{len(ordered[k])} {k} layers, {arch} has {len(wanted[k])}"
        for k in wanted
        if len(ordered[k]) != len(wanted[k])
    ]
    if counts:
        raise WeightsError(f"{path} does not fit detector {arch!r}: the file has " + "; ".join(counts))
    names = {id(m): n for n, m in network.named_modules()}
    state: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    chw = tuple(getattr(network, "flatten_chw", ()))
    for kind in ("conv", "bn", "dense"):
        for i, ((lname, w), module) in enumerate(zip(ordered[kind], wanted[kind], strict=True)):
            prefix = names[id(module)]
            converted = _convert(kind, w, first_dense=(kind == "dense" and i == 0), chw=chw)
            own = module.state_dict()
            for key, value in converted.items():
                if key not in own:
                    problems.append(f"{lname}: {arch} layer {prefix} has no {key}")
                elif tuple(value.shape) != tuple(own[key].shape):
                    problems.append(
                        f"{lname} -> {prefix}.{key}: file {tuple(value.shape)}, "
                        f"{arch} {tuple(own[key].shape)}"
                    )
                else:
                    state[f"{prefix}.{key}"] = value
    if problems:
        shown = ", ".join(problems[:_SHOWN]) + (", ..." if len(problems) > _SHOWN else "")
        raise WeightsError(f"{path} does not fit detector {arch!r} ({len(problems)} mismatches): {shown}")
    for k, v in network.state_dict().items():  # BN step counters and any bias a file left out
        if k not in state:
            if not k.endswith("num_batches_tracked"):
                raise WeightsError(f"{path} does not fit detector {arch!r}: nothing in the file for {k}")
            state[k] = v.clone()
    return state


def _convert(
    kind: str, w: Mapping[str, np.ndarray], *, first_dense: bool, chw: tuple[int, ...]
) -> dict[str, torch.Tensor]:
    """One Keras layer's weights in torch's layout and names."""
    out: dict[str, np.ndarray] = {}
    if kind == "conv":
        out["weight"] = w["kernel"].transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
    elif kind == "dense":
        kernel = w["kernel"]  # (in, out)
        if first_dense and len(chw) == 3 and kernel.shape[0] == int(np.prod(chw)):
            c, h, wd = chw  # Keras flattened (H, W, C); torch flattens (C, H, W)
            kernel = kernel.reshape(h, wd, c, -1).transpose(2, 0, 1, 3).reshape(c * h * wd, -1)
        out["weight"] = kernel.T
    else:
        out = {
            "weight": w["gamma"],
            "bias": w["beta"],
            "running_mean": w["moving_mean"],
            "running_var": w["moving_variance"],
        }
    if kind != "bn" and "bias" in w:
        out["bias"] = w["bias"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}
