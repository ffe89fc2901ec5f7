"""The synthetic world: procedural face identities rendered as aligned crops with exact landmarks.

It is the default source of real faces, built to be cheap on a CPU: every render is a batch of
tensor operations (no loops over images or pixels), so a few hundred 64 px faces take a fraction
of a second. Each identity is a fixed row of appearance parameters sampled once from `seed`; each
render samples pose, expression, lighting and background from the caller's `torch.Generator`, so
the same call replays exactly. Landmarks come from the same formulas that place the eyes, nose
tip and mouth corners, pushed through the same pose, so they are exact rather than estimated.

Geometry: the crop spans [-1, 1] in both axes (x right, y down). A face frame is placed on it by
an in-plane similarity (rotation, scale, translation); yaw is faked by treating each horizontal
slice of the head as an ellipse of depth `_DEPTH` times its width and turning it, which shifts
the inner features sideways with foreshortening while the silhouette stays put.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from deepfake_arena.faces import FaceBatch
from deepfake_arena.world import synthetic_parts as parts

Tensor = torch.Tensor

_DEPTH = 0.75  # head depth / head width, for the fake yaw
_TEXTURE_WAVES = 3
_BLUSH = torch.tensor([1.0, 0.65, 0.7]).view(1, 3, 1, 1)

# Identity appearance: name -> (low, high) of a uniform draw. Colours are drawn as a position on
# a palette (see `deepfake_arena.world.synthetic_parts`); `*_tone` columns are those positions.
_IDENTITY_RANGES: dict[str, tuple[float, float]] = {
    "face_w": (0.39, 0.50), "face_h": (0.58, 0.67), "face_cy": (-0.01, 0.05), "jaw": (0.0, 0.4),
    "skin_tone": (0.0, 1.0), "skin_warm": (-1.0, 1.0), "tex_amp": (0.01, 0.06), "blush": (0.0, 0.25),
    **{f"tex_f{i}{a}": (-7.0, 7.0) for i in range(_TEXTURE_WAVES) for a in "uv"},
    **{f"tex_phase{i}": (0.0, 2 * math.pi) for i in range(_TEXTURE_WAVES)},
    "mole_u": (-0.3, 0.3), "mole_v": (-0.1, 0.45), "mole_r": (-0.02, 0.022),
    "eye_dx": (0.17, 0.23), "eye_y": (-0.23, -0.17), "eye_w": (0.062, 0.085), "eye_h": (0.026, 0.038),
    "iris_r": (0.028, 0.036), "iris_tone": (0.0, 1.0),
    "brow_h": (0.065, 0.095), "brow_w": (0.075, 0.105), "brow_t": (0.009, 0.022),
    "brow_slant": (-0.25, 0.25), "brow_arch": (0.0, 0.025), "brow_dark": (0.2, 0.8),
    "nose_len": (0.25, 0.33), "nose_w": (0.045, 0.075), "nose_depth": (0.05, 0.1),
    "mouth_gap": (0.17, 0.24), "mouth_w": (0.12, 0.18), "lip_up": (0.010, 0.022),
    "lip_lo": (0.014, 0.030), "lip_red": (0.15, 0.7),
    "hair_tone": (0.0, 1.0), "hairline": (-0.56, -0.38), "hair_curve": (0.05, 0.3),
    "hair_part": (-0.2, 0.2), "hair_vol": (1.04, 1.4), "hair_top": (0.04, 0.16),
    "hair_len": (-0.1, 0.8), "hair_phase": (0.0, 2 * math.pi), "beard": (-2.5, 1.0), "ear": (0.8, 1.2),
}  # fmt: skip
_IDENTITY_NAMES = tuple(_IDENTITY_RANGES)

# Per-image variation, drawn from the caller's generator as one (B, len) uniform table.
_IMAGE_RANGES: dict[str, tuple[float, float]] = {
    "rot": (-0.21, 0.21), "scale": (0.9, 1.1), "tx": (-0.06, 0.06), "ty": (-0.06, 0.06),
    "yaw": (-0.3, 0.3), "smile": (0.0, 1.0), "open": (0.0, 1.0), "blink": (0.0, 1.0),
    "eye_open": (0.75, 1.1), "brow_raise": (-0.01, 0.03),
    "light_az": (0.0, 2 * math.pi), "light_el": (0.3, 1.0), "light": (0.25, 0.5), "ambient": (0.6, 0.8),
    "temp": (-1.0, 1.0), "bg_angle": (0.0, 2 * math.pi),
    **{f"{n}_{c}": (0.0, 1.0) for n in ("bg0", "bg1", "cloth") for c in "rgb"},
}  # fmt: skip
_IMAGE_NAMES = tuple(_IMAGE_RANGES)



CREDIT_SYNTHETIC = "Synthetic faces rendered by deepfake-arena"  # the credit line of its pictures

def _sample(table_shape: tuple[int, int], ranges: dict[str, tuple[float, float]], g: torch.Generator):
    lo = torch.tensor([r[0] for r in ranges.values()])
    hi = torch.tensor([r[1] for r in ranges.values()])
    return lo + (hi - lo) * torch.rand(table_shape, generator=g)


class SyntheticWorld:
    """Procedural identities rendered as aligned face crops with exact landmarks.

    Args:
        n_identities: how many distinct people the world holds.
        resolution: side of the square crops in pixels (at least 32).
        seed: fixes every identity's appearance; identity `i` looks the same for any
            `n_identities > i` with the same seed.

    Attributes:
        params: the appearance table, one row per identity, columns named by `param_names`.

    Shape:
        params: (n_identities, P)
    """

    param_names = _IDENTITY_NAMES

    def __init__(self, n_identities: int, resolution: int = 64, seed: int = 0) -> None:
        if isinstance(n_identities, bool) or not isinstance(n_identities, int) or n_identities < 1:
            raise ValueError(f"n_identities must be a positive int, got {n_identities!r}")
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 32:
            raise ValueError(f"resolution must be an int >= 32 pixels, got {resolution!r}")
        self.n_identities = n_identities
        self.resolution = resolution
        self.seed = seed
        g = torch.Generator().manual_seed(seed)
        self.params = _sample((n_identities, len(_IDENTITY_NAMES)), _IDENTITY_RANGES, g)
        col = {n: self.params[:, i] for i, n in enumerate(_IDENTITY_NAMES)}
        skin = parts.palette(col["skin_tone"], parts.SKIN_TONES)
        skin = skin * (1 + 0.04 * col["skin_warm"].unsqueeze(1) * torch.tensor([1.0, 0.0, -1.5]))
        hair = parts.palette(col["hair_tone"], parts.HAIR_COLOURS)
        lip = skin * (1 - col["lip_red"].unsqueeze(1) * torch.tensor([0.15, 0.55, 0.5]))
        brow = hair * (1 - col["brow_dark"].unsqueeze(1))
        # Light irises are common only with light skin.
        iris = parts.palette(col["iris_tone"] * (1.2 - col["skin_tone"]).clamp(0, 1), parts.IRIS_COLOURS)
        self._colours = {"skin": skin, "hair": hair, "lip": lip, "brow": brow, "iris": iris}

    def __repr__(self) -> str:
        return f"SyntheticWorld({self.n_identities}, resolution={self.resolution}, seed={self.seed})"

    def render(self, identity: Tensor, generator: torch.Generator) -> FaceBatch:
        """Render one image per entry of `identity`, with pose, expression and light from `generator`.

        Args:
            identity: identity ids in [0, n_identities).
            generator: the only source of randomness; the same generator state replays exactly.

        Returns:
            FaceBatch with images in [0, 1], landmarks in pixel coordinates (x, y), where pixel
            `(i, j)` has its centre at `(x=j, y=i)`, and a random int63 `source` id per image.

        Shape:
            identity: (B,) int64 -> images (B, 3, R, R), landmarks (B, 5, 2), source (B,)
        """
        self._check_identity(identity)
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        b, r = identity.shape[0], self.resolution
        image = _sample((b, len(_IMAGE_NAMES)), _IMAGE_RANGES, generator)
        source = torch.randint(0, 2**63 - 1, (b,), generator=generator, dtype=torch.int64)
        pores = torch.randn((b, 1, r, r), generator=generator)
        p = self._merge(identity, image)
        landmarks = _landmarks(p, r)
        images = self._draw({k: v.view(b, 1, 1, 1) for k, v in p.items()}, identity, image, pores)
        return FaceBatch(images, landmarks, identity.clone(), source)

    def _check_identity(self, identity: Tensor) -> None:
        if not isinstance(identity, torch.Tensor):
            raise TypeError(f"identity must be a torch.Tensor of int64 ids, got {type(identity).__name__}")
        if identity.dtype != torch.int64:
            raise TypeError(f"identity must have dtype torch.int64, got {identity.dtype}")
        if identity.ndim != 1 or identity.numel() == 0:
            raise ValueError(f"identity must have shape (B,) with B >= 1, got {tuple(identity.shape)}")
        lo, hi = int(identity.min()), int(identity.max())
        if lo < 0 or hi >= self.n_identities:
            raise ValueError(f"identity ids must lie in [0, {self.n_identities}), got values in [{lo}, {hi}]")

    def _merge(self, identity: Tensor, image: Tensor) -> dict[str, Tensor]:
        """Per-image scalars: identity parameters, image draws and the quantities derived from both.

        Shape:
            identity: (B,); image: (B, Q) -> dict of (B,)
        """
        p = {n: self.params[identity, i] for i, n in enumerate(_IDENTITY_NAMES)}
        p.update({n: image[:, i] for i, n in enumerate(_IMAGE_NAMES)})
        smile = p["smile"] ** 1.5
        blink = torch.full_like(smile, 0.12)
        p["eye_open"] = torch.where(p["blink"] < 0.06, blink, p["eye_open"] - 0.15 * smile)
        p["mouth_open"] = (p["open"] - 0.7).clamp(min=0) * 0.15
        p["mouth_lift"] = smile * 0.04
        p["mouth_half"] = p["mouth_w"] * (1 + 0.1 * smile)
        p["nose_y"] = p["eye_y"] + p["nose_len"]
        p["mouth_y"] = p["nose_y"] + p["mouth_gap"]
        p["sin_yaw"], p["cos_yaw"] = torch.sin(p["yaw"]), torch.cos(p["yaw"])
        p["yaw_m"] = torch.sqrt(p["cos_yaw"] ** 2 + (_DEPTH * p["sin_yaw"]) ** 2)
        p["yaw_b"] = torch.atan2(_DEPTH * p["sin_yaw"], p["cos_yaw"])
        p["tip_u"] = (_DEPTH * _half_width(p, p["nose_y"]) + p["nose_depth"]) * p["sin_yaw"]
        return p

    def _draw(self, p: dict[str, Tensor], identity: Tensor, image: Tensor, pores: Tensor) -> Tensor:
        """Paint the batch: background and clothes, the head layer, the features, then light.

        Full-size layers are written with in-place ops and the small features are painted in
        per-image windows, because allocating full-size temporaries is what a CPU render pays
        for most.

        Shape:
            p: dict of (B, 1, 1, 1); identity: (B,); image: (B, Q); pores: (B, 1, R, R)
            -> (B, 3, R, R) in [0, 1]
        """
        b, r = identity.shape[0], self.resolution
        col = {k: v[identity].view(b, 3, 1, 1) for k, v in self._colours.items()}
        rgb_of = {
            n: image[:, [_IMAGE_NAMES.index(f"{n}_{c}") for c in "rgb"]] for n in ("bg0", "bg1", "cloth")
        }
        grid = (torch.arange(r, dtype=torch.float32) + 0.5) * (2.0 / r) - 1.0
        u, v, uc = _frame(p, grid.view(1, 1, 1, r), grid.view(1, 1, r, 1))
        px = p["scale"] * (r / 2)

        # Background: a gradient between two muted colours, then clothes at the bottom.
        x, y = grid.view(1, 1, 1, r), grid.view(1, 1, r, 1)
        ramp = (x * torch.cos(p["bg_angle"])).add(y * torch.sin(p["bg_angle"])).mul_(0.5).add_(0.5)
        bg0, bg1, cloth = (0.15 + 0.7 * rgb_of[n].view(b, 3, 1, 1) for n in ("bg0", "bg1", "cloth"))
        out = torch.lerp(bg0, bg1, ramp)
        out.lerp_(cloth, parts.soft(parts.ellipse_sd(u, v - 1.28, 1.1, 0.46), px))

        c = parts.Canvas(u, v, uc, px, torch.zeros(b, 3, r, r), torch.zeros(b, 1, r, r))
        skin, hair = col["skin"], col["hair"]
        dv = v - p["face_cy"]
        wave = torch.sin(v * 7 + p["hair_phase"]).mul_(6).add_(u, alpha=90)
        strands = wave.sin_().clamp_(min=0).mul_(0.35)
        hair_w, hair_h = p["face_w"] * p["hair_vol"] * p["yaw_m"], p["face_h"] + p["hair_top"]
        hair_cover = parts.soft(parts.ellipse_sd(u, dv + 0.06, hair_w, hair_h), px)
        c.paint(parts.soft(v - p["hair_len"], px).mul_(hair_cover), hair * 0.85)
        c.paint(strands * c.alpha, hair * 0.6)
        ear_v = p["eye_y"] + 0.1
        ear_u = _half_width(p, ear_v) * p["yaw_m"] * 0.96
        ears = parts.ellipse_sd(u.abs().sub_(ear_u), v - ear_v, 0.045 * p["ear"], 0.085 * p["ear"])
        c.paint(parts.soft(ears, px), skin * 0.88)
        neck = torch.maximum(u.abs().sub_(p["face_w"] * 0.5), p["face_cy"] + 0.2 - v)
        c.paint(parts.soft(neck, px), skin * 0.78)
        taper = (dv / p["face_h"]).clamp_(0, 1).square_().mul_(-p["jaw"]).add_(1)
        face = parts.soft(parts.ellipse_sd(u, dv, taper.mul_(p["face_w"] * p["yaw_m"]), p["face_h"]), px)
        c.paint(face, skin)

        # Skin texture: identity waves in turning face coordinates and per-image pores.
        lum = torch.zeros_like(u)
        for i in range(_TEXTURE_WAVES):
            lum.add_((uc * p[f"tex_f{i}u"]).addcmul_(v, p[f"tex_f{i}v"]).add_(p[f"tex_phase{i}"]).sin_())
        lum.mul_(p["tex_amp"]).add_(pores, alpha=0.025).mul_(face).add_(1)
        c.rgb.mul_(lum)
        cheeks = parts.ellipse_sd(uc.abs().sub_(0.24), v - p["nose_y"] + 0.02, 0.1, 0.07)
        c.paint(parts.soft(cheeks, px).mul_(face).mul_(p["blush"]), skin * _BLUSH)
        beard = (v - p["nose_y"]).mul_(6).clamp_(0, 1).mul_(face).mul_(p["beard"].clamp(0, 1))
        c.paint(beard.mul_(pores.clamp(-2, 2).mul_(0.05).add_(0.7)), hair * 0.9)

        self._features(c, p, col)
        line = (uc / p["face_w"]).square_().mul_(p["hair_curve"]).addcmul_(uc, p["hair_part"])
        front = parts.soft(line.add_(p["hairline"]).sub_(v).neg_(), px).mul_(hair_cover)
        c.paint(front, hair)
        c.paint(strands.mul_(front), hair * 0.6)

        # Light the head as a Lambertian ellipsoid, then warm or cool the whole frame.
        nx = u / (p["face_w"] * 1.1 * p["yaw_m"])
        ny = dv.div_(p["face_h"] * 1.15)
        nz = (nx * nx).addcmul_(ny, ny).neg_().add_(1).clamp_(min=0.05).sqrt_()
        norm = (nx * nx).addcmul_(ny, ny).addcmul_(nz, nz).sqrt_()
        el, az = p["light_el"], p["light_az"]
        lam = nx.mul_(torch.sin(el) * torch.cos(az)).addcmul_(ny, torch.sin(el) * torch.sin(az))
        lam.addcmul_(nz, torch.cos(el)).div_(norm).clamp_(min=0)
        shade = lam.mul_(p["light"]).add_(p["ambient"])
        out.mul_(c.alpha.neg_().add_(1)).addcmul_(c.rgb, shade)
        temp = p["temp"] * 0.06
        out.mul_(torch.cat([1 + temp, torch.ones_like(temp), 1 - temp], 1))
        return out.clamp_(0, 1)

    def _features(self, c: parts.Canvas, p: dict[str, Tensor], col: dict[str, Tensor]) -> None:
        """Paint eyes, brows, nose, mouth and mole, each in a small window around its centre."""
        skin = col["skin"]
        for side in (-1.0, 1.0):

            def eye(w: parts.Canvas, side: float = side) -> None:
                parts.draw_eye(w, p, side, col["iris"], skin)
                parts.draw_brow(w, p, side, col["brow"])

            centre_v = p["eye_y"] - 0.04
            _in_window(c, p, _turn(p, side * p["eye_dx"], centre_v), centre_v, 0.19, 0.14, eye)
        nose_v = p["nose_y"] - 0.15

        def nose(w: parts.Canvas) -> None:
            parts.draw_nose(w, p, p["tip_u"], p["cos_yaw"], skin)

        _in_window(c, p, p["tip_u"], nose_v, 0.1, 0.21, nose)
        mouth_v = p["mouth_y"] - 0.02
        mouth_u = _turn(p, torch.zeros_like(mouth_v), mouth_v)
        _in_window(c, p, mouth_u, mouth_v, 0.23, 0.1, lambda w: parts.draw_mouth(w, p, col["lip"]))

        def mole(w: parts.Canvas) -> None:
            dot = parts.soft(parts.ellipse_sd(w.uc - p["mole_u"], w.v - p["mole_v"], 0.01, 0.01), w.px)
            w.paint(dot.mul_((p["mole_r"] > 0).float() * 0.8), skin * 0.45)

        _in_window(c, p, _turn(p, p["mole_u"], p["mole_v"]), p["mole_v"], 0.03, 0.03, mole)


def _half_width(p: dict[str, Tensor], v: Tensor) -> Tensor:
    """Half-width of the (unturned) face silhouette at height `v`; zero above and below it.

    Shape:
        p: dict of (B,) or (B, 1, 1, 1); v: broadcastable -> broadcast shape
    """
    t = (v - p["face_cy"]).div_(p["face_h"])
    taper = t.clamp(0, 1).square_().mul_(-p["jaw"]).add_(1)
    return t.square_().neg_().add_(1).clamp_(min=0).sqrt_().mul_(taper).mul_(p["face_w"])


def _turn(p: dict[str, Tensor], uc: Tensor, v: Tensor) -> Tensor:
    """Projected `u` of a face-surface point `(uc, v)` after the fake yaw (the inverse of the
    mapping that `_draw` applies to every pixel).

    Shape:
        p: dict of (B,); uc, v: (B,) -> (B,)
    """
    w = _half_width(p, v).clamp(min=0.08)
    return w * p["yaw_m"] * torch.sin(torch.asin((uc / w).clamp(-1, 1)) + p["yaw_b"])


def _landmarks(p: dict[str, Tensor], resolution: int) -> Tensor:
    """Exact landmarks: the face-frame points the parts are drawn around, through the pose.

    Shape:
        p: dict of (B,) -> (B, 5, 2) pixel (x, y)
    """
    corner_v = p["mouth_y"] - p["mouth_lift"]
    u = torch.stack(
        [
            _turn(p, -p["eye_dx"], p["eye_y"]),
            _turn(p, p["eye_dx"], p["eye_y"]),
            p["tip_u"],
            _turn(p, -p["mouth_half"], corner_v),
            _turn(p, p["mouth_half"], corner_v),
        ],
        1,
    )
    v = torch.stack([p["eye_y"], p["eye_y"], p["nose_y"], corner_v, corner_v], 1)
    return _to_pixels(p, u, v, resolution)


def _to_pixels(p: dict[str, Tensor], u: Tensor, v: Tensor, resolution: int) -> Tensor:
    """Apply the in-plane pose to face-frame points and convert to pixel (x, y).

    Shape:
        p: dict of (B,) or (B, 1, 1, 1); u, v: (B, N) -> (B, N, 2)
    """
    b = u.shape[0]
    rot, scale, tx, ty = (p[k].reshape(b, 1) for k in ("rot", "scale", "tx", "ty"))
    cos_r, sin_r = torch.cos(rot), torch.sin(rot)
    x = scale * (cos_r * u - sin_r * v) + tx
    y = scale * (sin_r * u + cos_r * v) + ty
    return (torch.stack([x, y], 2) + 1) * (resolution / 2) - 0.5


def _frame(p: dict[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Face-frame coordinates `(u, v)` of crop points and `uc`, `u` with the fake yaw undone.

    Inside the silhouette `uc` inverts `_turn`; outside it continues linearly, so features
    never smear sideways along a saturated coordinate.

    Shape:
        p: dict of (B, 1, 1, 1); x: (B or 1, 1, 1, W), y: (B or 1, 1, H, 1) in [-1, 1]
        -> three (B, 1, H, W)
    """
    x, y = x - p["tx"], y - p["ty"]
    cos_s, sin_s = torch.cos(p["rot"]) / p["scale"], torch.sin(p["rot"]) / p["scale"]
    u = (x * cos_s).add(y * sin_s)
    v = (y * cos_s).sub(x * sin_s)
    w = _half_width(p, v).clamp_(min=0.08)
    edge = w * p["yaw_m"]
    inside = torch.minimum(torch.maximum(u, -edge), edge)
    beyond = (u - inside).mul_(2)
    uc = inside.div_(edge).asin_().sub_(p["yaw_b"]).sin_().mul_(w).add_(beyond)
    return u, v, uc


Draw = Callable[[parts.Canvas], None]


def _in_window(
    c: parts.Canvas, p: dict[str, Tensor], u: Tensor, v: Tensor, hu: float, hv: float, draw: Draw
) -> None:
    """Run `draw` on a per-image window of `c` around face-frame point `(u, v)`, then write back.

    The window spans `±hu`, `±hv` face units around the point (widened for the largest scale
    and rotation the pose can draw, plus two pixels of anti-aliasing), clamped inside the crop.

    Shape:
        u, v: (B, 1, 1, 1)
    """
    b, r = c.rgb.shape[0], c.rgb.shape[-1]
    s, a = _IMAGE_RANGES["scale"][1], _IMAGE_RANGES["rot"][1]
    kx = min(r, math.ceil(s * (hu * math.cos(a) + hv * math.sin(a)) * r) + 4)
    ky = min(r, math.ceil(s * (hu * math.sin(a) + hv * math.cos(a)) * r) + 4)
    centre = _to_pixels(p, u.view(b, 1), v.view(b, 1), r).view(b, 2)
    x0 = (centre[:, 0] - (kx - 1) / 2).round().long().clamp(0, r - kx)
    y0 = (centre[:, 1] - (ky - 1) / 2).round().long().clamp(0, r - ky)
    cols = x0.view(b, 1, 1, 1) + torch.arange(kx).view(1, 1, 1, kx)
    rows = y0.view(b, 1, 1, 1) + torch.arange(ky).view(1, 1, ky, 1)
    idx = (rows * r + cols).view(b, 1, ky * kx)
    to_unit = lambda i: (i.float() + 0.5) * (2.0 / r) - 1.0  # noqa: E731
    u_w, v_w, uc_w = _frame(p, to_unit(cols), to_unit(rows))
    flat_rgb, flat_alpha = c.rgb.view(b, 3, r * r), c.alpha.view(b, 1, r * r)
    rgb = flat_rgb.gather(2, idx.expand(b, 3, -1)).view(b, 3, ky, kx)
    alpha = flat_alpha.gather(2, idx).view(b, 1, ky, kx)
    draw(parts.Canvas(u_w, v_w, uc_w, c.px, rgb, alpha))
    flat_rgb.scatter_(2, idx.expand(b, 3, -1), rgb.view(b, 3, -1))
    flat_alpha.scatter_(2, idx, alpha.view(b, 1, -1))
