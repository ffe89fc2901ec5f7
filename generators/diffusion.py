"""Diffusion refinement of a swap (diffusers `UNet2DModel` + DDPM training / DDIM sampling).

Newer face swaps hide the blending seam older detectors learned by regenerating the face region
with a diffusion model. This family makes the warp-and-blend base swap (`deepfake_arena.generators.blend`),
cuts the aligned face crop, and refines it:

* SDEdit (Meng et al., 2022): noise the crop to strength t (a fraction of the sampler's steps)
  and denoise it back with DDIM, so the model re-draws detail it finds implausible;
* masked, RePaint-style (Lugmayr et al., 2022): after every denoising step the region outside
  the refine mask is reset to the original crop noised to the same level, so only the face (or
  only the seam band around the paste mask) is regenerated and it stays consistent with the rest.

The refined crop is warped back and composited over the base swap inside the refined region;
evasion and post-processing follow as in every family. Strength, steps and the region are genes.

Weights: trained in the run on aligned real faces (a tiny UNet, epsilon prediction, budgeted
steps), or a pretrained unconditional model from a local directory (`load_pretrained`), never
downloaded. The crop side is the UNet's `sample_size`.
"""

from __future__ import annotations

import json
from pathlib import Path

import kornia
import torch
import torch.nn.functional as F

from deepfake_arena.faces import FaceBatch, check_images
from deepfake_arena.generators import stages
from deepfake_arena.generators.blend import warp_swap
from deepfake_arena.generators.crops import from_crop, to_crop
from deepfake_arena.generators.evasion import EVASION_GENES
from deepfake_arena.generators.genome import GeneSpace, GeneSpec, Genome
from deepfake_arena.generators.learning import (
    draw_seed,
    load_module,
    meta_value,
    module_weights,
    seeded,
    training_crops,
)
from deepfake_arena.generators.registry import (
    FAMILIES,
    GeneratorFamily,
    StrainWeights,
    Swapped,
    TrainBudget,
    check_pair,
)

REGIONS = ("face", "seam", "crop")

SPACE = GeneSpace(
    "diffusion",
    (
        GeneSpec("align_jitter", "float", 0.0, 0.0, 3.0, fmt="jitter {:.1f}px", hide_at=0.0),
        *stages.PASTE_GENES,
        GeneSpec("refine_strength", "float", 0.3, 0.0, 0.8, fmt="refine t={:.2f}", hide_at=0.0),
        GeneSpec("refine_steps", "int", 8, 2, 20, fmt="{} DDIM steps"),
        GeneSpec("refine_region", "choice", "face", choices=REGIONS, fmt="{} region"),
        *stages.POST_GENES,
        *EVASION_GENES,
    ),
)

# The in-run model: small enough to train for a few dozen steps per strain on a CPU.
SCHEDULER_CONFIG = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "clip_sample": True}


def tiny_unet_config(resolution: int) -> dict[str, object]:
    return {
        "sample_size": resolution,
        "in_channels": 3,
        "out_channels": 3,
        "block_out_channels": [16, 32],
        "layers_per_block": 1,
        "down_block_types": ["DownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "UpBlock2D"],
        "norm_num_groups": 8,
    }


def _unet_from_config(config: dict[str, object]):
    from diffusers import UNet2DModel

    return UNet2DModel.from_config(config)


def build(weights: StrainWeights, device: torch.device):
    """UNet and DDIM scheduler from a strain's weights (config and scheduler config in the meta)."""
    from diffusers import DDIMScheduler

    unet_cfg, sched_cfg = meta_value(weights, "unet_config"), meta_value(weights, "scheduler_config")
    if not isinstance(unet_cfg, dict) or not isinstance(sched_cfg, dict):
        raise ValueError("diffusion weights carry a malformed unet or scheduler config")
    unet = load_module(_unet_from_config(unet_cfg), weights).to(device).eval()
    return unet, DDIMScheduler.from_config(sched_cfg)


def load_pretrained(path: str | Path) -> StrainWeights:
    """A pretrained unconditional UNet2DModel from a local directory, as strain weights.

    The directory is what `UNet2DModel.save_pretrained` writes (config.json and weights), or a
    pipeline folder with a `unet/` subfolder; a `scheduler_config.json` (or `scheduler/`) beside
    it sets the noise schedule. Nothing is ever downloaded.
    """
    from diffusers import DDPMScheduler, UNet2DModel

    root = Path(path)
    sub = "unet" if (root / "unet" / "config.json").is_file() else None
    if not (root / (sub or "") / "config.json").is_file():
        raise FileNotFoundError(
            f"no pretrained diffusion model at {root}: expected a directory written by "
            "UNet2DModel.save_pretrained (config.json + weights) or a pipeline folder with unet/; "
            "the arena never downloads weights"
        )
    unet = UNet2DModel.from_pretrained(str(root), subfolder=sub, local_files_only=True)
    sched_cfg = dict(SCHEDULER_CONFIG)
    for cand, folder in (
        (root / "scheduler_config.json", None),
        (root / "scheduler" / "scheduler_config.json", "scheduler"),
    ):
        if cand.is_file():
            sched = DDPMScheduler.from_pretrained(str(root), subfolder=folder, local_files_only=True)
            sched_cfg = {k: v for k, v in dict(sched.config).items() if not k.startswith("_")}
            break
    unet_cfg = {k: v for k, v in dict(unet.config).items() if not k.startswith("_")}
    return module_weights(
        unet,
        {"unet_config": unet_cfg, "scheduler_config": sched_cfg, "source": f"pretrained:{root}", "steps": 0},
    )


def refine(
    unet,
    scheduler,
    crops: torch.Tensor,
    region: torch.Tensor,
    strength: float,
    steps: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """SDEdit to `strength` with RePaint-style masking: regenerate `region`, keep the rest.

    Strength 0 returns the input unchanged. DDIM with eta 0 is deterministic given the initial
    noise, which comes from `generator`.

    Shape:
        crops: (B, 3, s, s) in [0, 1]; region: (B, 1, s, s) in [0, 1] (1 = regenerate);
        returns (B, 3, s, s) in [0, 1].
    """
    check_images(crops, "crops")
    if region.shape != (crops.shape[0], 1, *crops.shape[-2:]):
        raise ValueError(f"region must have shape (B, 1, s, s) like the crops, got {tuple(region.shape)}")
    if not 0 <= strength <= 1 or steps < 1:
        raise ValueError(f"refine needs strength in [0, 1] and steps >= 1, got {strength}, {steps}")
    n = int(round(steps * strength))
    if n == 0:
        return crops
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps[-n:]
    x0 = crops * 2 - 1
    noise = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0)
    x = scheduler.add_noise(x0, noise, timesteps[:1].repeat(len(x0)))
    with torch.no_grad():
        for i, t in enumerate(timesteps):
            eps = unet(x, t).sample
            x = scheduler.step(eps, t, x).prev_sample
            if i + 1 < len(timesteps):
                known = scheduler.add_noise(x0, noise, timesteps[i + 1 : i + 2].repeat(len(x0)))
            else:
                known = x0
            x = torch.lerp(known, x, region)
    return ((x + 1) / 2).clamp(0, 1)


def refine_region(mask_crop: torch.Tensor, region: str) -> torch.Tensor:
    """The part of the crop to regenerate. Shape: (B, 1, s, s) paste mask -> (B, 1, s, s).

    'face': the paste mask grown by 2 px (the seam lies inside), 'seam': a band of about 3 px
    around the mask's edge, 'crop': everything.
    """
    if region == "crop":
        return torch.ones_like(mask_crop)
    kernel = torch.ones(5, 5, device=mask_crop.device, dtype=mask_crop.dtype)
    grown = kornia.morphology.dilation(mask_crop, kernel)
    if region == "face":
        return grown
    if region == "seam":
        return (grown - kornia.morphology.erosion(mask_crop, kernel)).clamp(0, 1)
    raise ValueError(f"unknown refine region {region!r}; valid choices: {', '.join(REGIONS)}")


def boundary_energy(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The blending-boundary statistic: mean squared Sobel gradient magnitude on the mask's edge.

    The edge band is where the (feathered) paste mask lies strictly between 0.05 and 0.95, grown
    by one pixel: a pasted face leaves a seam of extra gradient there that refinement removes.

    Shape:
        images: (B, 3, H, W); mask: (B, 1, H, W) in [0, 1]; returns (B,).
    """
    check_images(images)
    band = ((mask > 0.05) & (mask < 0.95)).to(images.dtype)
    band = kornia.morphology.dilation(band, torch.ones(3, 3, device=images.device, dtype=images.dtype))
    energy = kornia.filters.sobel(images).pow(2).sum(1, keepdim=True)
    return (energy * band).sum((1, 2, 3)) / band.sum((1, 2, 3)).clamp_min(1)


@FAMILIES.register("diffusion")
class DiffusionFamily(GeneratorFamily):
    """Warp-and-blend base swap refined by a (tiny, in-run trained or local pretrained) diffusion model."""

    name = "diffusion"
    gene_space = SPACE
    learns = True
    load_pretrained = staticmethod(load_pretrained)

    @classmethod
    def prepare(
        cls,
        faces: FaceBatch,
        genome: Genome,
        generator: torch.Generator,
        budget: TrainBudget,
        *,
        init: StrainWeights | None = None,
    ) -> StrainWeights:
        """Train a UNet to predict the noise on aligned real crops (DDPM loss), from `init` if given.

        A warm start (a parent's or a pretrained model) trains `budget.finetune_steps` at the
        model's own sample size; 0 returns `init` unchanged. Meta 'loss' holds the mean loss of
        the first and last tenth of the steps.
        """
        from diffusers import DDPMScheduler

        check_pair(faces, faces, genome, SPACE)
        dev = faces.images.device
        if init is None:
            with seeded(draw_seed(generator)):
                unet = _unet_from_config(tiny_unet_config(budget.resolution)).to(dev)
            sched_cfg: dict = dict(SCHEDULER_CONFIG)
            steps, source = budget.steps, "trained"
        else:
            unet, _ = build(init, dev)
            sched_cfg = dict(meta_value(init, "scheduler_config"))  # type: ignore[call-overload]
            steps, source = budget.finetune_steps, str(meta_value(init, "source"))
            if steps == 0:
                return init
        size = int(unet.config.sample_size)
        crops = training_crops(faces, size) * 2 - 1
        noise_sched = DDPMScheduler.from_config(sched_cfg)
        total = int(noise_sched.config.num_train_timesteps)
        opt = torch.optim.AdamW(unet.parameters(), lr=budget.lr, weight_decay=0.0)
        unet.train()
        losses = []
        for _ in range(steps):
            idx = torch.randint(
                len(crops), (budget.batch_size,), generator=generator, device=generator.device
            )
            x0 = crops[idx.to(dev)]
            x0 = torch.where(
                torch.rand((len(x0), 1, 1, 1), generator=generator, device=generator.device).to(dev) < 0.5,
                x0,
                x0.flip(-1),
            )
            noise = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0)
            t = torch.randint(total, (len(x0),), generator=generator, device=generator.device).to(dev)
            loss = F.mse_loss(unet(noise_sched.add_noise(x0, noise, t), t).sample, noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            opt.step()
            losses.append(float(loss.detach()))
        unet.eval()
        k = max(1, steps // 10)
        unet_cfg = {k2: v for k2, v in dict(unet.config).items() if not k2.startswith("_")}
        meta = {
            "unet_config": json.loads(json.dumps(unet_cfg)),
            "scheduler_config": sched_cfg,
            "source": source,
            "steps": steps,
            "loss": [sum(losses[:k]) / k, sum(losses[-k:]) / k],
        }
        return module_weights(unet, meta)

    @classmethod
    def swap(
        cls,
        source: FaceBatch,
        target: FaceBatch,
        genome: Genome,
        generator: torch.Generator,
        *,
        weights: StrainWeights | None = None,
    ) -> Swapped:
        """Blend source i onto target i, then regenerate the face region with the diffusion model.

        Shape:
            source, target: FaceBatch of B faces at (H, W); returns frames (B, 3, H, W) and
            masks (B, 1, H, W): where the frame was changed.
        """
        g = check_pair(source, target, genome, SPACE)
        if not isinstance(weights, StrainWeights):
            raise ValueError(
                "a diffusion strain needs its weights: call prepare() or load_pretrained() first"
            )
        hw = (target.images.shape[-2], target.images.shape[-1])
        unet, scheduler = build(weights, target.images.device)
        base, mask = warp_swap(source, target, g, generator)
        base = base.clamp(0, 1)
        if float(g["refine_strength"]) > 0:
            size = int(unet.config.sample_size)
            crop = to_crop(base, target.landmarks, size)
            region = refine_region(
                to_crop(mask.expand(-1, 3, -1, -1), target.landmarks, size)[:, :1], str(g["refine_region"])
            )
            refined = refine(
                unet, scheduler, crop, region, float(g["refine_strength"]), int(g["refine_steps"]), generator
            )
            # Composite only where regenerated; the soft region edge keeps the frame seamless.
            back = from_crop(torch.cat([refined, region], 1), target.landmarks, hw).clamp(0, 1)
            refined_frame, region_frame = back[:, :3], back[:, 3:]
            base = torch.lerp(base, refined_frame, region_frame)
            mask = torch.maximum(mask, region_frame)
        return Swapped(base, mask, Genome(SPACE.family, g))
