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

import torch

from arena import synthetic_parts as parts
from arena.faces import FaceBatch

Tensor = torch.Tensor

_DEPTH = 0.75  # head depth / head width, for the fake yaw
_TEXTURE_WAVES = 3

# Identity appearance: name -> (low, high) of a uniform draw. Colours are drawn as a position on
# a palette (see `arena.synthetic_parts`); `*_tone` columns are those positions.
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
        iris = parts.palette(col["iris_tone"], parts.IRIS_COLOURS)
        self._colours = {"skin": skin, "hair": hair, "lip": lip, "brow": brow, "iris": iris}

    def __repr__(self) -> str:
        return f"SyntheticWorld(n_identities={self.n_identities}, resolution={self.resolution}, seed={self.seed})"

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
            raise ValueError(
                f"identity ids must lie in [0, {self.n_identities}), got values in [{lo}, {hi}]"
            )

    def _merge(self, identity: Tensor, image: Tensor) -> dict[str, Tensor]:
        """Per-image scalars: identity parameters, image draws and the quantities derived from both.

        Shape:
            identity: (B,); image: (B, Q) -> dict of (B,)
        """
        p = {n: self.params[identity, i] for i, n in enumerate(_IDENTITY_NAMES)}
        p.update({n: image[:, i] for i, n in enumerate(_IMAGE_NAMES)})
        smile = p["smile"] ** 1.5
        p["eye_open"] = torch.where(p["blink"] < 0.06, torch.full_like(smile, 0.12), p["eye_open"] - 0.15 * smile)
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
        """Paint the batch: background and clothes, then the head layer, lit, on top.

        Shape:
            p: dict of (B, 1, 1, 1); identity: (B,); image: (B, Q); pores: (B, 1, R, R)
            -> (B, 3, R, R) in [0, 1]
        """
        b, r = identity.shape[0], self.resolution
        col = {k: v[identity].view(b, 3, 1, 1) for k, v in self._colours.items()}
        img = {n: image[:, i] for i, n in enumerate(_IMAGE_NAMES)}
        grid = (torch.arange(r, dtype=torch.float32) + 0.5) * (2.0 / r) - 1.0
        x, y = grid.view(1, 1, 1, r) - p["tx"], grid.view(1, 1, r, 1) - p["ty"]
        cos_r, sin_r = torch.cos(p["rot"]), torch.sin(p["rot"])
        u, v = (cos_r * x + sin_r * y) / p["scale"], (cos_r * y - sin_r * x) / p["scale"]
        px = p["scale"] * (r / 2)
        w = _half_width(p, v).clamp(min=0.08)
        # Undo the yaw inside the silhouette; continue linearly outside it, so that features
        # never smear sideways along a saturated coordinate.
        edge = w * p["yaw_m"]
        inside = torch.minimum(torch.maximum(u, -edge), edge)
        uc = w * torch.sin(torch.asin(inside / edge) - p["yaw_b"]) + (u - inside) * 2

        # Background: a gradient between two muted colours, then clothes at the bottom.
        bg0 = 0.15 + 0.7 * torch.stack([img[f"bg0_{c}"] for c in "rgb"], 1).view(b, 3, 1, 1)
        bg1 = 0.15 + 0.7 * torch.stack([img[f"bg1_{c}"] for c in "rgb"], 1).view(b, 3, 1, 1)
        ramp = (x * torch.cos(p["bg_angle"]) + y * torch.sin(p["bg_angle"])) * 0.5 + 0.5
        out = bg0 + (bg1 - bg0) * ramp.clamp(0, 1)
        cloth = 0.1 + 0.7 * torch.stack([img[f"cloth_{c}"] for c in "rgb"], 1).view(b, 3, 1, 1)
        parts.over(out, parts.soft(parts.ellipse_sd(u, v - 1.28, 1.1, 0.46), px), cloth)

        c = parts.Canvas(u, v, uc, px, torch.zeros(b, 3, r, r), torch.zeros(b, 1, r, r))
        skin, hair = col["skin"], col["hair"]
        dv = v - p["face_cy"]
        strands = 1 + 0.07 * torch.sin(90 * u + 6 * torch.sin(7 * v + p["hair_phase"]))
        head_h = p["face_h"] + p["hair_top"]
        hair_sd = parts.ellipse_sd(u, dv + 0.06, p["face_w"] * p["hair_vol"] * p["yaw_m"], head_h)
        hair_cover = parts.soft(hair_sd, px)
        c.paint(hair_cover * parts.soft(v - p["hair_len"], px), hair * strands * 0.85)
        ear_v = p["eye_y"] + 0.1
        ear_u = _half_width(p, ear_v) * p["yaw_m"] * 0.96
        for side in (-1.0, 1.0):
            ear = parts.ellipse_sd(u - side * ear_u, v - ear_v, 0.045 * p["ear"], 0.085 * p["ear"])
            c.paint(parts.soft(ear, px), skin * 0.88)
        neck_w = p["face_w"] * 0.5
        c.paint(parts.soft(torch.maximum(u.abs() - neck_w, p["face_cy"] + 0.2 - v), px), skin * 0.78)
        taper = 1 - p["jaw"] * (dv / p["face_h"]).clamp(0, 1) ** 2
        face = parts.soft(parts.ellipse_sd(u, dv, p["face_w"] * p["yaw_m"] * taper, p["face_h"]), px)

        # Skin: identity texture waves and blush in turning face coordinates, per-image pores.
        tex = sum(
            torch.sin(p[f"tex_f{i}u"] * uc + p[f"tex_f{i}v"] * v + p[f"tex_phase{i}"])
            for i in range(_TEXTURE_WAVES)
        )
        skin_px = skin * (1 + p["tex_amp"] * tex + 0.025 * pores)
        cheeks = parts.soft(parts.ellipse_sd(uc.abs() - 0.24, v - p["nose_y"] + 0.02, 0.1, 0.07), px)
        skin_px = skin_px * (1 - p["blush"] * cheeks * parts.SKIN_TONES.new_tensor([0.0, 0.35, 0.3]).view(1, 3, 1, 1))
        c.paint(face, skin_px)
        mole = parts.soft(parts.ellipse_sd(uc - p["mole_u"], v - p["mole_v"], 0.01, 0.01), px)
        c.paint(face * mole * (p["mole_r"] > 0).float() * 0.8, skin * 0.45)
        beard = p["beard"].clamp(0, 1) * ((v - p["nose_y"]) * 6).clamp(0, 1) * face
        c.paint(beard * (0.7 + 0.05 * pores.clamp(-2, 2)), hair * 0.9)

        for side in (-1.0, 1.0):
            parts.draw_eye(c, p, side, col["iris"], skin)
            parts.draw_brow(c, p, side, col["brow"])
        parts.draw_nose(c, p, p["tip_u"], p["cos_yaw"], skin)
        parts.draw_mouth(c, p, col["lip"])
        line = p["hairline"] + p["hair_curve"] * (uc / p["face_w"]) ** 2 + p["hair_part"] * uc
        c.paint(hair_cover * parts.soft(v - line, px), hair * strands)

        # Light the head with a Lambertian ellipsoid, then warm/cool the whole frame.
        nx = u / (p["face_w"] * 1.1 * p["yaw_m"])
        ny = dv / (p["face_h"] * 1.15)
        nz = (1 - nx * nx - ny * ny).clamp(min=0.05).sqrt()
        el, az = p["light_el"], p["light_az"]
        lam = (torch.sin(el) * (torch.cos(az) * nx + torch.sin(az) * ny) + torch.cos(el) * nz)
        lam = lam / torch.sqrt(nx * nx + ny * ny + nz * nz)
        shade = p["ambient"] + p["light"] * lam.clamp(min=0)
        out = out * (1 - c.alpha) + c.rgb * shade
        temp = p["temp"] * 0.06
        out = out * torch.cat([1 + temp, torch.ones_like(temp), 1 - temp], 1)
        return out.clamp_(0, 1)


def _half_width(p: dict[str, Tensor], v: Tensor) -> Tensor:
    """Half-width of the (unturned) face silhouette at height `v`; zero above and below it.

    Shape:
        p: dict of (B,) or (B, 1, 1, 1); v: broadcastable -> broadcast shape
    """
    t = (v - p["face_cy"]) / p["face_h"]
    taper = 1 - p["jaw"] * t.clamp(0, 1) ** 2
    return p["face_w"] * (1 - t * t).clamp(min=0).sqrt() * taper


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
    cos_r, sin_r, s = (p[k].unsqueeze(1) for k in ("rot", "rot", "scale"))
    cos_r, sin_r = torch.cos(cos_r), torch.sin(sin_r)
    x = s * (cos_r * u - sin_r * v) + p["tx"].unsqueeze(1)
    y = s * (sin_r * u + cos_r * v) + p["ty"].unsqueeze(1)
    return (torch.stack([x, y], 2) + 1) * (resolution / 2) - 0.5
