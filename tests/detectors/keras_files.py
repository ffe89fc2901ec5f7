"""Keras 2 HDF5 weight files of the published MesoNet networks, written with h5py in the layout
``model.save_weights`` writes (attribute ``layer_names`` on the file; a group per layer with an
attribute ``weight_names``; each weight at ``<layer>/<layer>/<weight>:0``), with random weights;
and an independent NumPy implementation of the published layer maths (NHWC, HWIO kernels, as
Keras computes) to check an import against.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

Layer = tuple[str, list[tuple[str, np.ndarray]]]  # (layer name, [(weight name, array)])

# (kernel, c_in, c_out, dilation) of the published convs, in the order the Keras code makes them
INCEPTION_1 = [
    (1, 3, 1, 1),
    (1, 3, 4, 1),
    (3, 4, 4, 1),
    (1, 3, 4, 1),
    (3, 4, 4, 2),
    (1, 3, 2, 1),
    (3, 2, 2, 3),
]
INCEPTION_2 = [
    (1, 11, 2, 1),
    (1, 11, 4, 1),
    (3, 4, 4, 1),
    (1, 11, 4, 1),
    (3, 4, 4, 2),
    (1, 11, 2, 1),
    (3, 2, 2, 3),
]
MESO4_CONVS = [(3, 3, 8, 1), (5, 8, 8, 1), (5, 8, 16, 1), (5, 16, 16, 1)]
INCEPTION_CONVS = INCEPTION_1 + INCEPTION_2 + [(5, 12, 16, 1), (5, 16, 16, 1)]


def _name(kind: str, i: int, tf_names: bool) -> str:
    """Keras 2 numbers from 1 (conv2d_1); tf.keras leaves the first bare (conv2d, conv2d_1)."""
    if tf_names:
        return kind if i == 0 else f"{kind}_{i}"
    return f"{kind}_{i + 1}"


def random_published(
    arch: str, rng: np.random.Generator, *, tf_names: bool = False
) -> tuple[list[Layer], list[str]]:
    """Random weights of ``meso4`` or ``mesoinception4`` as published: the layers with weights in
    Keras creation order, and the file's full ``layer_names`` (with the weightless layers)."""
    convs = MESO4_CONVS if arch == "meso4" else INCEPTION_CONVS
    bn_channels = [8, 8, 16, 16] if arch == "meso4" else [11, 12, 16, 16]
    conv_layers = []
    for i, (k, c_in, c_out, _) in enumerate(convs):
        kernel = rng.normal(0.0, np.sqrt(2.0 / (k * k * c_in)), (k, k, c_in, c_out))
        conv_layers.append(
            (_name("conv2d", i, tf_names), [("kernel", kernel), ("bias", rng.normal(0.0, 0.1, c_out))])
        )
    bn_layers = []
    for i, c in enumerate(bn_channels):
        bn_layers.append(
            (
                _name("batch_normalization", i, tf_names),
                [
                    ("gamma", rng.uniform(0.5, 1.5, c)),
                    ("beta", rng.normal(0.0, 0.2, c)),
                    ("moving_mean", rng.uniform(0.0, 0.5, c)),
                    ("moving_variance", rng.uniform(0.05, 0.5, c)),
                ],
            )
        )
    dense_layers = [
        (
            _name("dense", 0, tf_names),
            [("kernel", rng.normal(0, 0.05, (1024, 16))), ("bias", rng.normal(0, 0.1, 16))],
        ),
        (
            _name("dense", 1, tf_names),
            [("kernel", rng.normal(0, 0.3, (16, 1))), ("bias", rng.normal(0, 0.1, 1))],
        ),
    ]
    layers = [
        (n, [(w, a.astype(np.float32)) for w, a in ws]) for n, ws in conv_layers + bn_layers + dense_layers
    ]
    extra = ["input_1", "max_pooling2d_1", "flatten_1", "dropout_1", "leaky_re_lu_1", "dropout_2"]
    if arch == "mesoinception4":
        extra += ["concatenate_1", "concatenate_2"]
    return layers, [n for n, _ in layers] + extra


def write_keras_h5(
    path: Path, layers: list[Layer], layer_names: list[str], *, whole_model: bool = False
) -> Path:
    """Write ``layers`` as Keras 2 ``save_weights`` does (under ``model_weights`` for a whole
    model saved with ``model.save``), listing the layers in the order ``layer_names`` gives."""
    weights = dict(layers)
    with h5py.File(path, "w") as fh:
        root = fh.create_group("model_weights") if whole_model else fh
        root.attrs["layer_names"] = np.array([n.encode() for n in layer_names])
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.1.5"
        for name in layer_names:
            g = root.create_group(name)
            ws = weights.get(name, [])
            g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in ws], dtype="S64")
            for w, array in ws:
                g.create_dataset(f"{name}/{w}:0", data=array)
    return path


# ----------------------------------------------------------------------- the published layer maths


def conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, dilation: int = 1) -> np.ndarray:
    """Keras Conv2D(padding='same', strides=1): x (N, H, W, C_in), kernel (kh, kw, C_in, C_out)."""
    kh, kw = kernel.shape[:2]
    ph, pw = dilation * (kh // 2), dilation * (kw // 2)
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    h, w = x.shape[1:3]
    out = np.zeros((*x.shape[:3], kernel.shape[3]))
    for dy in range(kh):
        for dx in range(kw):
            out += (
                xp[:, dy * dilation : dy * dilation + h, dx * dilation : dx * dilation + w, :]
                @ kernel[dy, dx]
            )
    return out + bias


def batch_norm(x: np.ndarray, gamma, beta, mean, var, eps: float = 1e-3) -> np.ndarray:
    """Keras BatchNormalization at inference (epsilon 1e-3, its default)."""
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def max_pool(x: np.ndarray, p: int) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h // p, p, w // p, p, c).max(axis=(2, 4))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def leaky_relu(x: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    return np.where(x > 0, x, alpha * x)


def published_logits(arch: str, layers: list[Layer], x_nhwc: np.ndarray) -> np.ndarray:
    """The published network's pre-sigmoid output on (N, 256, 256, 3) inputs in [0, 1]."""
    w = [{k: v.astype(np.float64) for k, v in ws} for _, ws in layers]
    n_convs = 4 if arch == "meso4" else 16
    convs, bns, dense = w[:n_convs], w[n_convs : n_convs + 4], w[n_convs + 4 :]
    specs = MESO4_CONVS if arch == "meso4" else INCEPTION_CONVS

    def conv(i: int, x: np.ndarray) -> np.ndarray:
        return relu(conv_same(x, convs[i]["kernel"], convs[i]["bias"], specs[i][3]))

    def bn(i: int, x: np.ndarray) -> np.ndarray:
        b = bns[i]
        return batch_norm(x, b["gamma"], b["beta"], b["moving_mean"], b["moving_variance"])

    x = x_nhwc.astype(np.float64)
    if arch == "meso4":
        for i, pool in enumerate((2, 2, 2, 4)):
            x = max_pool(bn(i, conv(i, x)), pool)
    else:
        for m in range(2):
            o = 7 * m
            y = np.concatenate(
                [
                    conv(o, x),
                    conv(o + 2, conv(o + 1, x)),
                    conv(o + 4, conv(o + 3, x)),
                    conv(o + 6, conv(o + 5, x)),
                ],
                axis=-1,
            )
            x = max_pool(bn(m, y), 2)
        x = max_pool(bn(2, conv(14, x)), 2)
        x = max_pool(bn(3, conv(15, x)), 4)
    y = x.reshape(x.shape[0], -1)  # Keras Flatten: (H, W, C) order
    y = leaky_relu(y @ dense[0]["kernel"] + dense[0]["bias"])
    return (y @ dense[1]["kernel"] + dense[1]["bias"])[:, 0]
