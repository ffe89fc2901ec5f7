"""Drawing primitives and facial parts for the synthetic world (`deepfake_arena.world.synthetic`).

Everything works on whole batches at once: per-pixel fields are `(B, 1, R, R)`, per-image
scalars `(B, 1, 1, 1)` and colours `(B, 3, 1, 1)`, so one call draws a part on every image.
Shapes are described by approximate signed distances in face units (the crop spans [-1, 1]),
turned into soft coverage with a sigmoid over about one pixel: edges are anti-aliased, never
binary, which keeps the renders smooth like real photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor

# Palettes are piecewise-linear ramps: a uniform draw in [0, 1] walks along the anchors, so a
# single parameter spans a plausible range (skin from pale to dark, hair from black to grey).
SKIN_TONES = torch.tensor(
    [[0.97, 0.83, 0.72], [0.91, 0.72, 0.58], [0.80, 0.58, 0.43], [0.66, 0.45, 0.31],
     [0.49, 0.32, 0.21], [0.33, 0.21, 0.14]]
)  # fmt: skip
HAIR_COLOURS = torch.tensor(
    [[0.06, 0.05, 0.05], [0.13, 0.09, 0.07], [0.25, 0.16, 0.10], [0.42, 0.27, 0.15],
     [0.55, 0.24, 0.10], [0.70, 0.55, 0.32], [0.87, 0.76, 0.50], [0.62, 0.61, 0.60]]
)  # fmt: skip
IRIS_COLOURS = torch.tensor(
    [[0.20, 0.11, 0.06], [0.33, 0.20, 0.10], [0.40, 0.35, 0.17], [0.25, 0.38, 0.22],
     [0.24, 0.38, 0.55], [0.38, 0.43, 0.48]]
)  # fmt: skip
SCLERA = (0.93, 0.90, 0.87)
LASH = (0.06, 0.05, 0.05)


def palette(t: Tensor, anchors: Tensor) -> Tensor:
    """Colour at position `t` along a piecewise-linear palette.

    Shape:
        t: (N,) in [0, 1]; anchors: (K, 3) -> (N, 3)
    """
    k = anchors.shape[0] - 1
    pos = t.clamp(0, 1) * k
    lo = pos.floor().long().clamp(max=k - 1)
    frac = (pos - lo).unsqueeze(1)
    return anchors[lo] * (1 - frac) + anchors[lo + 1] * frac


def soft(sd: Tensor, px: Tensor) -> Tensor:
    """Coverage of a shape from its signed distance (negative inside), about one pixel wide.

    Works in place on `sd`, which must be a temporary: allocating full-size tensors is what
    dominates the cost of a render on CPU.

    Shape:
        sd: (B, 1, H, W) in face units; px: (B, 1, 1, 1) pixels per face unit -> (B, 1, H, W)
    """
    return sd.mul_(px * -3.0).sigmoid_()


def ellipse_sd(du: Tensor, dv: Tensor, a: Tensor | float, b: Tensor | float) -> Tensor:
    """First-order signed distance to an axis-aligned ellipse with half-axes `a`, `b`.

    `(r - 1) / |grad r|` with `r` the normalised radius: exact on the boundary and good within
    a few pixels of it, which is all `soft` needs.

    Shape:
        du, dv: (B, 1, H, W) offsets from the centre; a, b broadcastable -> (B, 1, H, W)
    """
    qa, qb = du / a, dv / b
    r = torch.hypot(qa, qb)
    grad = torch.hypot(qa.div_(a), qb.div_(b), out=qa).add_(1e-6)
    return torch.mul(r, r, out=qb).sub_(r).div_(grad)


def band_sd(du: Tensor, dv: Tensor, top: Tensor, bottom: Tensor, half_w: Tensor | float) -> Tensor:
    """Signed distance to the region between two curves `top <= dv <= bottom`, `|du| <= half_w`.

    The vertical distance is used across the band, which is accurate for the thin, mostly
    horizontal shapes drawn with it (eyelids, lips, brows).

    Shape:
        all (B, 1, H, W) or broadcastable -> (B, 1, H, W)
    """
    mid, half = (top + bottom) * 0.5, (bottom - top) * 0.5
    return torch.maximum((dv - mid).abs_() - half, du.abs() - half_w)


@dataclass
class Canvas:
    """Per-pixel face coordinates of a batch (or of a window of it) and the layer being painted.

    `u`, `v` are face-frame coordinates after undoing the in-plane pose (x right, y down);
    `uc` is `u` with the fake yaw undone, so features painted in `(uc, v)` turn with the head.
    `rgb` is premultiplied by the coverage `alpha`, so lighting can be applied to the head alone.

    Shape:
        u, v, uc: (B, 1, H, W); px: (B, 1, 1, 1) pixels per face unit
        rgb: (B, 3, H, W); alpha: (B, 1, H, W)
    """

    u: Tensor
    v: Tensor
    uc: Tensor
    px: Tensor
    rgb: Tensor
    alpha: Tensor

    def paint(self, cover: Tensor, colour: Tensor | tuple[float, float, float]) -> None:
        """Paint `colour` ((B, 3, 1, 1) or an RGB tuple) with coverage `cover`, in place."""
        if isinstance(colour, tuple):
            colour = self.rgb.new_tensor(colour).view(1, 3, 1, 1)
        self.rgb.lerp_(colour, cover)
        self.alpha.lerp_(self.alpha.new_ones(()), cover)


def draw_eye(c: Canvas, p: dict[str, Tensor], side: float, iris: Tensor, skin: Tensor) -> None:
    """Almond eye between two parabolic lids, iris and pupil centred on the landmark.

    The lids open by `p["eye_open"]`; a nearly closed eye still shows the dark lash line at
    the centre, so the eye-centre landmark is always on a dark pixel.
    """
    du, dv = c.uc - side * p["eye_dx"], c.v - p["eye_y"]
    ew, eh = p["eye_w"], p["eye_h"] * p["eye_open"]
    prof = (1 - (du / ew) ** 2).clamp(min=0)
    upper, lower = -eh * prof * 1.1, eh * prof * 0.75
    socket = soft(ellipse_sd(du, dv + p["eye_h"] * 0.3, ew * 1.5, p["eye_h"] * 2.6), c.px)
    c.paint(socket * 0.22, skin * 0.55)
    eye = soft(band_sd(du, dv, upper, lower, ew), c.px)
    c.paint(eye, SCLERA)
    r = torch.sqrt(du * du + dv * dv)
    c.paint(eye * soft(r - p["iris_r"], c.px), iris)
    c.paint(eye * soft(r - p["iris_r"] * 0.5, c.px), (0.03, 0.02, 0.02))
    lash = 0.004 + 0.004 * prof
    c.paint(soft(band_sd(du, dv, upper - lash, upper + lash * 0.5, ew * 1.04), c.px), LASH)


def draw_brow(c: Canvas, p: dict[str, Tensor], side: float, colour: Tensor) -> None:
    """Slanted, arched brow that thins toward its outer end."""
    du = c.uc - side * (p["eye_dx"] + 0.01)
    dv = c.v - (p["eye_y"] - p["brow_h"] - p["brow_raise"])
    a = p["brow_slant"] * side
    cos, sin = torch.cos(a), torch.sin(a)
    du, dv = cos * du + sin * dv, cos * dv - sin * du
    q = du / p["brow_w"]
    centre = -p["brow_arch"] * (1 - q * q)
    half = p["brow_t"] * (1 - 0.45 * (q * side).clamp(min=0))
    c.paint(soft(band_sd(du, dv, centre - half, centre + half, p["brow_w"]), c.px), colour)


def draw_nose(c: Canvas, p: dict[str, Tensor], tip_u: Tensor, cos_yaw: Tensor, skin: Tensor) -> None:
    """Nose as shading: bridge sides, a lit tip, a shadow under it and two nostrils.

    Drawn in projected coordinates centred on the (yawed) nose tip, foreshortened by the yaw.
    """
    du, dv = (c.u - tip_u) / cos_yaw, c.v - p["nose_y"]
    nw = p["nose_w"]
    length = p["nose_y"] - p["eye_y"]
    bridge = ellipse_sd(du, dv + length * 0.5, nw * 0.55, length * 0.55)
    inner = soft(bridge + nw * 0.2, c.px)
    c.paint(soft(bridge, c.px).sub_(inner).mul_(0.3), skin * 0.6)
    c.paint(soft(ellipse_sd(du, dv - nw * 0.35, nw * 0.85, nw * 0.38), c.px) * 0.35, skin * 0.55)
    c.paint(soft(ellipse_sd(du, dv, nw * 0.55, nw * 0.42), c.px) * 0.25, skin * 1.15 + 0.05)
    for side in (-1.0, 1.0):
        nostril = ellipse_sd(du - side * nw * 0.5, dv - nw * 0.38, nw * 0.26, nw * 0.14)
        c.paint(soft(nostril, c.px) * 0.75, skin * 0.25)


def draw_mouth(c: Canvas, p: dict[str, Tensor], lip: Tensor) -> None:
    """Lips between the two mouth corners, with smile (raised corners) and opening.

    The centre line passes exactly through the corner landmarks `(±mouth_half, mouth_y - lift)`.
    """
    mw = p["mouth_half"]
    du, dv = c.uc, c.v - p["mouth_y"]
    q2 = (du / mw) ** 2
    prof = (1 - q2).clamp(min=0).sqrt()
    centre = -p["mouth_lift"] * q2
    gap = p["mouth_open"] * prof
    top = centre - gap - p["lip_up"] * prof * (1 + 0.25 * q2)
    bottom = centre + gap + p["lip_lo"] * prof
    c.paint(soft(band_sd(du, dv, top, bottom, mw), c.px), lip)
    seam = gap + 0.003 * prof
    inner = soft(band_sd(du, dv, centre - seam, centre + seam, mw * 0.97), c.px)
    c.paint(inner * 0.85, lip * 0.25)
    teeth = soft(band_sd(du, dv, centre - gap, centre - gap * 0.2, mw * 0.7), c.px)
    c.paint(inner * teeth * (p["mouth_open"] > 0.008).float(), (0.88, 0.85, 0.8))
