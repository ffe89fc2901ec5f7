"""Evasion operators any family can carry as genes: spectral matching and detector-guided perturbation.

* Spectral matching (after Durall et al., 2020, who showed that up-sampling leaves a spectral
  trace detectors key on): rescale each frequency ring of the fakes' Fourier amplitude so the
  batch's radial log power spectrum moves toward that of real faces, by a gene-set fraction.
* Detector-guided perturbation: a bounded (L-inf budget, inside the face mask) perturbation that
  lowers a surrogate detector's P(fake). White-box: projected signed-gradient descent (PGD)
  through the fake's own post-processing (kornia's differentiable blur, resize, JPEG), so the
  perturbation survives it. Black-box: the same steps with the gradient estimated from scores
  alone by antithetic evolution strategies (NES). The best iterate per image is kept, so the
  surrogate's P(fake) never rises above that of the unperturbed fake.
* Extractor attack (after Cao & Gong, 2021, who showed that small perturbations make face
  detectors and landmarkers miss or misplace faces): on worlds whose detectors sit behind a face
  extractor (`deepfake_arena.rounds.extraction`), a bounded perturbation of the whole frame that pushes the
  extractor's landmarks away from the true ones, white-box or black-box as above. The arena then
  scores a face its extractor misses as a miss; a misplaced one is scored on the bad crop.

The surrogate arrives as a scoring function (`deepfake_arena.generators.registry.Scorer`) and the extractor as
a landmark function (`deepfake_arena.generators.queries.Landmarker`); generators never import detectors.
Without a surrogate (round 1: nothing is deployed yet) guidance is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

from deepfake_arena.faces import check_images
from deepfake_arena.generators.genome import GeneSpec, GeneValue
from deepfake_arena.generators.quality import radial_log_power, ring_index
from deepfake_arena.generators.queries import Landmarker, Scorer
from deepfake_arena.generators.stages import apply_post, sample_post

GUIDED = ("whitebox", "blackbox")

EVASION_GENES = (
    GeneSpec("spectral_match", "float", 0.0, 0.0, 1.0, fmt="spectrum match {:.2f}", hide_at=0.0),
    GeneSpec("evasion", "choice", "off", choices=("off", *GUIDED), fmt="{} evasion", hide_at="off"),
    GeneSpec("evasion_budget", "float", 0.01, 0.002, 0.03, fmt="L-inf {:.3f}", show_if=("evasion", GUIDED)),
    GeneSpec("evasion_steps", "int", 3, 1, 6, fmt="{} steps", show_if=("evasion", GUIDED)),
    # A no-op where no extractor stands in front of the detectors (synthetic worlds).
    GeneSpec(
        "extractor_attack",
        "choice",
        "off",
        choices=("off", *GUIDED),
        fmt="{} extractor attack",
        hide_at="off",
        added_later=True,
    ),
    GeneSpec(
        "extractor_budget",
        "float",
        0.01,
        0.002,
        0.03,
        fmt="extractor L-inf {:.3f}",
        show_if=("extractor_attack", GUIDED),
        added_later=True,
    ),
    GeneSpec(
        "extractor_steps",
        "int",
        3,
        1,
        6,
        fmt="{} extractor steps",
        show_if=("extractor_attack", GUIDED),
        added_later=True,
    ),
)

MAX_GAIN = 4.0  # per-ring amplitude gain bound: matching must not amplify noise without limit
ES_PAIRS = 4  # antithetic direction pairs per black-box step
ES_TILE = 4  # black-box directions are drawn at 1/ES_TILE resolution and upsampled (Ilyas et al.'s tiling)


def passes_per_fake(genes: Mapping[str, GeneValue], *, surrogate: bool, extractor: bool) -> int:
    """How often each fake is post-processed and shown to a network: 1 without guided operators.

    Black-box: 2 * ES_PAIRS probes and the new iterate per step, plus the unperturbed start;
    white-box: one forward (which also scores the iterate) and one backward (~2 forwards) per
    step, plus the last iterate's score. It orders the loop's make tasks longest first, so it
    only needs to rank them, not time them.
    """
    n = 1
    for mode_gene, steps_gene, present in (
        ("evasion", "evasion_steps", surrogate),
        ("extractor_attack", "extractor_steps", extractor),
    ):
        mode = genes.get(mode_gene, "off")
        if present and mode in GUIDED:
            n += 1 + int(genes[steps_gene]) * (2 * ES_PAIRS + 1 if mode == "blackbox" else 3)
    return n


def spectral_match(
    images: torch.Tensor, reference: torch.Tensor, strength: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Move the batch's radial log power spectrum a fraction `strength` toward the reference's.

    One gain per frequency ring, shared by the batch and the colour channels (the spectrum is
    measured on grey images, as `generators.quality.spectral_distance` does); the DC term is kept.
    With `mask`, the matched image is blended in only there.

    Shape:
        images: (B, 3, H, W) in [0, 1]; reference: (R, 3, H, W) real faces in [0, 1];
        mask: (B, 1, H, W) or None; returns (B, 3, H, W) in [0, 1].
    """
    check_images(images)
    check_images(reference, "reference")
    if images.shape[-2:] != reference.shape[-2:]:
        raise ValueError(
            f"reference faces must match the images' size {tuple(images.shape[-2:])}, "
            f"got {tuple(reference.shape[-2:])}"
        )
    if not 0 <= strength <= 1:
        raise ValueError(f"spectral matching strength must lie in [0, 1], got {strength}")
    if strength == 0:
        return images
    h, w = images.shape[-2:]
    gap = radial_log_power(reference) - radial_log_power(images)  # (rings,) log power ratio
    gain_rings = torch.exp(0.5 * strength * gap).clamp(1 / MAX_GAIN, MAX_GAIN)  # amplitude = sqrt(power)
    gain_rings[0] = 1.0
    radius, n_rings = ring_index(h, w, images.device)
    gain = gain_rings[radius.clamp(max=n_rings - 1)]
    gain = torch.fft.ifftshift(gain, dim=(-2, -1)).to(images.dtype)
    spectrum = torch.fft.fft2(images)
    out = torch.fft.ifft2(spectrum * gain).real.clamp(0, 1)
    return out if mask is None else torch.lerp(images, out, mask)


def _project(images: torch.Tensor, delta: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (images + delta * mask).clamp(0, 1)


def guided_perturbation(
    images: torch.Tensor,
    scorer: Scorer,
    budget: float,
    steps: int,
    mask: torch.Tensor,
    *,
    mode: str = "whitebox",
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Lower `scorer`'s P(fake) with a perturbation of L-inf norm <= budget, weighted by `mask`.

    Signed-gradient steps of size 2.5 * budget / steps (Madry et al.'s PGD schedule), projected
    back into the budget and [0, 1] after each step. The score is taken of `transform(x)` (the
    fake's post-processing) so the perturbation is optimised for what is finally shown. The best
    iterate per image, including the unperturbed start, is returned.

    Shape:
        images: (B, 3, H, W) in [0, 1]; mask: (B, 1, H, W) in [0, 1]; returns (B, 3, H, W) with
        |out - images| <= budget * mask everywhere.
    """
    return _perturb(images, scorer, budget, steps, mask, mode, transform, generator)[0]


def _perturb(
    images: torch.Tensor,
    scorer: Scorer,
    budget: float,
    steps: int,
    mask: torch.Tensor,
    mode: str,
    transform: Callable[[torch.Tensor], torch.Tensor] | None,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`guided_perturbation`'s best iterates, and `transform(best).clamp(0, 1)`: what the scorer
    was shown of them, kept from their scoring so the caller need not post-process them again."""
    check_images(images)
    if mask.shape != (images.shape[0], 1, *images.shape[-2:]):
        raise ValueError(f"mask must have shape (B, 1, H, W) to match the images, got {tuple(mask.shape)}")
    if not budget > 0 or steps < 1:
        raise ValueError(f"guided evasion needs budget > 0 and steps >= 1, got {budget}, {steps}")
    if mode not in GUIDED:
        raise ValueError(f"unknown evasion mode {mode!r}; valid choices: {', '.join(GUIDED)}")
    if mode == "blackbox" and generator is None:
        raise ValueError("black-box evasion draws search directions and needs a torch.Generator")
    post = transform or (lambda x: x)
    images = images.detach()
    mask = mask.detach()

    def look(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(P(fake), the image shown) of x."""
        shown = post(x).clamp(0, 1)
        p = scorer(shown)
        if p.shape != (x.shape[0],):
            raise ValueError(f"the surrogate must return one P(fake) per image, got shape {tuple(p.shape)}")
        return p, shown

    alpha = 2.5 * budget / steps
    delta = torch.zeros_like(images)
    best = images.clone()
    best_shown: torch.Tensor | None = None  # the first call's iterate is the start, best's own
    best_score = torch.full((images.shape[0],), torch.inf, device=images.device)

    def keep_better(x: torch.Tensor, s: torch.Tensor, shown: torch.Tensor) -> None:
        nonlocal best, best_shown, best_score
        better = (s < best_score).view(-1, 1, 1, 1)
        best = torch.where(better, x, best)
        best_shown = torch.where(better, shown, shown if best_shown is None else best_shown)
        best_score = torch.minimum(s, best_score)

    def score(x: torch.Tensor) -> torch.Tensor:
        return look(x)[0]

    x = images
    if mode == "blackbox":
        with torch.no_grad():
            keep_better(x, *look(x))
    for _ in range(steps):
        if mode == "whitebox":
            # The gradient's forward pass scores the current iterate too: no second forward.
            grad, s, shown = _whitebox_grad(look, images, delta, mask)
            keep_better(x, s, shown)
        else:
            assert generator is not None
            grad = _blackbox_grad(score, images, delta, mask, budget, generator)
        delta = (delta - alpha * grad.sign()).clamp(-budget, budget)
        x = _project(images, delta, mask)
        if mode == "blackbox":
            with torch.no_grad():
                keep_better(x, *look(x))
    if mode == "whitebox":
        with torch.no_grad():
            keep_better(x, *look(x))
    assert best_shown is not None  # every mode scores at least once
    return best, best_shown


def _whitebox_grad(
    look: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    images: torch.Tensor,
    delta: torch.Tensor,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """d P(fake) / d delta at the current iterate, and the iterate's P(fake) (B,) and shown image."""
    d = delta.clone().requires_grad_(True)
    with torch.enable_grad():
        p, shown = look(_project(images, d, mask))
        if not p.requires_grad:
            raise ValueError(
                "white-box evasion needs a differentiable surrogate (its scores carry no gradient); "
                "use evasion 'blackbox' for a score-only surrogate"
            )
        (grad,) = torch.autograd.grad(p.sum(), d)
    return grad, p.detach(), shown.detach()


def _blackbox_grad(
    score: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    delta: torch.Tensor,
    mask: torch.Tensor,
    budget: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """NES estimate of d P(fake) / d delta from 2 * ES_PAIRS scores per image, B images per call.

    Directions are smooth (drawn on a coarse grid and upsampled): a few probes then estimate a
    gradient in a space ES_TILE**2 times smaller, which is what makes score-only search work.
    """
    b, c, h, w = images.shape
    coarse = (max(1, h // ES_TILE), max(1, w // ES_TILE))
    u = torch.randn((ES_PAIRS * b, c, *coarse), generator=generator, device=generator.device)
    u = F.interpolate(u.to(images.device, images.dtype), size=(h, w), mode="nearest").view(
        ES_PAIRS, b, c, h, w
    )
    sigma = 0.5 * budget
    x = images[None] + delta[None]
    probes = torch.cat([x + sigma * u, x - sigma * u])  # (2P, B, 3, H, W)
    probes = (images[None] + (probes - images[None]) * mask[None]).clamp(0, 1)
    with torch.no_grad():
        s = torch.stack([score(p) for p in probes]).view(2, ES_PAIRS, b)  # post-noise is per image
    diff = (s[0] - s[1]).view(ES_PAIRS, b, 1, 1, 1)
    return (diff * u).sum(0) / (2 * ES_PAIRS * sigma)


def landmark_displacement(extractor: Landmarker, landmarks: torch.Tensor) -> Scorer:
    """Minus the extractor's mean landmark error, in eye distances, as a score to minimise.

    Lowering it pushes the extractor's points away from where the face really is: far enough and
    the arena's extractor reports a miss, less far and the detector is shown a misaligned crop.

    Shape:
        landmarks: (B, 5, 2) the faces' true points (eye centres first); the returned function
        maps (B, 3, H, W) in [0, 1] -> (B,).
    """
    if landmarks.ndim != 3 or landmarks.shape[1:] != (5, 2):
        raise ValueError(f"landmarks must have shape (B, 5, 2), got {tuple(landmarks.shape)}")
    true = landmarks.detach()
    eye_distance = (true[:, 1] - true[:, 0]).norm(dim=-1).clamp_min(1.0)

    def score(images: torch.Tensor) -> torch.Tensor:
        points = extractor(images)
        if points.shape != true.shape:
            raise ValueError(f"the extractor must return (B, 5, 2) points, got {tuple(points.shape)}")
        return -(points - true.to(points.dtype)).norm(dim=-1).mean(1) / eye_distance

    return score


def evade_and_post(
    images: torch.Tensor,
    reference: torch.Tensor,
    mask: torch.Tensor,
    genes: Mapping[str, GeneValue],
    generator: torch.Generator,
    surrogate: Scorer | None,
    extractor: Landmarker | None = None,
    landmarks: torch.Tensor | None = None,
) -> torch.Tensor:
    """The last stages of every family: spectral matching, guided evasion, extractor attack,
    post-processing.

    The post-processing noise is drawn first, so evasion optimises through the very degradation
    the fake then receives; an evasion gene without a surrogate, or an extractor attack without
    an extractor, is a no-op. The extractor attack perturbs the whole frame (the extractor looks
    at all of it), within its own budget; the quality measures outside the face bound it.

    Shape:
        images: (B, 3, H, W) swapped frames in [0, 1]; reference: (B, 3, H, W) real faces (the
        targets) for the spectrum; mask: (B, 1, H, W); landmarks: (B, 5, 2) the targets' points
        (needed with an extractor); returns (B, 3, H, W) in [0, 1].
    """
    noise = sample_post(images, genes, generator)
    post = lambda x: apply_post(x, genes, noise)  # noqa: E731  (what every guided step scores through)
    out = images  # a Laplacian blend may overshoot [0, 1] slightly; the operators need it in range
    shown = None  # post(out).clamp(0, 1), when the last guided operator already made it
    if float(genes["spectral_match"]) > 0:
        out = spectral_match(out.clamp(0, 1), reference, float(genes["spectral_match"]))
    if genes["evasion"] != "off" and surrogate is not None:
        out, shown = _perturb(
            out.clamp(0, 1),
            surrogate,
            float(genes["evasion_budget"]),
            int(genes["evasion_steps"]),
            mask,
            str(genes["evasion"]),
            post,
            generator,
        )
    if genes.get("extractor_attack", "off") != "off" and extractor is not None:
        if landmarks is None:
            raise ValueError("an extractor attack needs the faces' true landmarks")
        out, shown = _perturb(
            out.clamp(0, 1),
            landmark_displacement(extractor, landmarks),
            float(genes["extractor_budget"]),
            int(genes["extractor_steps"]),
            torch.ones_like(mask),
            str(genes["extractor_attack"]),
            post,
            generator,
        )
    return post(out).clamp(0, 1) if shown is None else shown
