"""The DeepFakes / DeepFaceLab swap: a shared encoder and an identity-conditioned decoder.

DeepFakes trains one encoder on the faces of two people and one decoder per person; a swap
encodes a frame of person B and decodes it with A's decoder, so A's face appears with B's pose,
expression and lighting. A world holds dozens of identities, so the per-person decoders become
one decoder conditioned on a learned identity embedding (FiLM: a per-channel scale and shift in
each up-sampling block). With DeepFakes' warp augmentation (the input is randomly warped, the
target is not) and a narrow latent, the code carries pose and expression and the embedding the
identity. The decoded crop is warped back onto the target frame, masked, colour-matched and
blended with the shared stages, then evasion and post-processing follow as in every family.

Weights belong to the strain: `prepare` trains them on aligned real faces of every identity the
strain will swap (budgeted steps at a budgeted crop resolution) and `make` needs them.

Shape: crops are (B, 3, R, R) with R the budget's resolution (divisible by 8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators import stages
from deepfake_arena.generators.crops import from_crop, to_crop
from deepfake_arena.generators.evasion import EVASION_GENES
from deepfake_arena.generators.genome import GeneSpace, GeneSpec, Genome
from deepfake_arena.generators.learning import (
    draw_seed,
    load_module,
    meta_value,
    module_weights,
    random_warp,
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

SPACE = GeneSpace(
    "autoencoder",
    (
        GeneSpec("align_jitter", "float", 0.0, 0.0, 3.0, fmt="jitter {:.1f}px", hide_at=0.0),
        GeneSpec("identity_mix", "float", 1.0, 0.5, 1.0, fmt="identity {:.2f}", hide_at=1.0),
        *stages.PASTE_GENES,
        *stages.POST_GENES,
        *EVASION_GENES,
    ),
)

IDS = "identities"  # the weights tensor listing the identity ids the embedding rows stand for


class SwapAutoencoder(nn.Module):
    """Shared encoder (R -> R/8, then a dense latent) and a FiLM identity-conditioned decoder."""

    def __init__(self, resolution: int, n_identities: int, channels: int = 12, latent: int = 64) -> None:
        super().__init__()
        c, self.side = channels, resolution // 8
        self.config = {
            "resolution": resolution,
            "n_identities": n_identities,
            "channels": c,
            "latent": latent,
        }
        act = nn.LeakyReLU(0.1)
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), act,
            nn.Conv2d(c, 2 * c, 4, 2, 1), act,
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1), act,
            nn.Conv2d(4 * c, 4 * c, 4, 2, 1), act,
            nn.Flatten(), nn.Linear(4 * c * self.side**2, latent),
        )  # fmt: skip
        self.expand = nn.Linear(latent, 4 * c * self.side**2)
        self.embed = nn.Embedding(n_identities, 32)
        widths = [(4 * c, 4 * c), (4 * c, 2 * c), (2 * c, c)]
        self.ups = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in widths)
        self.films = nn.ModuleList(nn.Linear(32, 2 * o) for _, o in widths)
        self.out = nn.Conv2d(c, 3, 3, padding=1)

    def encode(self, crops: torch.Tensor) -> torch.Tensor:
        return self.encoder(crops * 2 - 1)

    def decode(self, code: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Shape: code (B, latent), identity (B, 32) embedding rows -> crops (B, 3, R, R) in [0, 1]."""
        x = F.leaky_relu(self.expand(code), 0.1).view(len(code), -1, self.side, self.side)
        for conv, film in zip(self.ups, self.films, strict=True):
            scale, shift = film(identity).chunk(2, dim=1)
            x = conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
            x = F.leaky_relu(x * (1 + scale[..., None, None]) + shift[..., None, None], 0.1)
        return torch.sigmoid(self.out(x))


def build(weights: StrainWeights, device: torch.device) -> tuple[SwapAutoencoder, torch.Tensor]:
    """The network and its identity list from a strain's weights."""
    cfg = meta_value(weights, "config")
    if not isinstance(cfg, dict):
        raise ValueError("autoencoder weights carry a malformed config")
    net = SwapAutoencoder(**cfg)
    load_module(net, weights, skip=(IDS,))
    return net.to(device).eval(), weights.tensors[IDS].to(device)


def identity_rows(ids: torch.Tensor, wanted: torch.Tensor, role: str) -> torch.Tensor:
    """Embedding rows of `wanted` identity ids; unknown ids fail, naming them."""
    pos = torch.searchsorted(ids, wanted).clamp(max=len(ids) - 1)
    unknown = wanted[ids[pos] != wanted]
    if len(unknown):
        raise ValueError(
            f"{role} identities {sorted(set(unknown.tolist()))[:8]} were not in this autoencoder "
            f"strain's training faces ({len(ids)} identities); train it on every identity it swaps"
        )
    return pos


def reconstruction_loss(weights: StrainWeights, faces: FaceBatch) -> float:
    """Mean L1 error of reconstructing aligned crops of `faces` with their own identity."""
    net, ids = build(weights, faces.images.device)
    crops = training_crops(faces, net.config["resolution"])
    with torch.no_grad():
        rec = net.decode(net.encode(crops), net.embed(identity_rows(ids, faces.identity, "face")))
    return float((rec - crops).abs().mean())


@FAMILIES.register("autoencoder")
class AutoencoderFamily(GeneratorFamily):
    """Shared-encoder face swap with trained weights per strain."""

    name = "autoencoder"
    gene_space = SPACE
    learns = True

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
        """Train on aligned crops of `faces` (all identities the strain will swap), from `init` if given.

        Returns the weights with meta 'config', 'steps' and 'loss' (mean L1 over the first and
        the last tenth of the steps).
        """
        check_pair(faces, faces, genome, SPACE)
        crops = training_crops(faces, budget.resolution)
        ids = torch.unique(faces.identity.to(torch.int64))  # sorted
        dev = faces.images.device
        with seeded(draw_seed(generator)):
            net = SwapAutoencoder(budget.resolution, len(ids)).to(dev)
        steps = budget.steps
        if init is not None:
            net, init_ids = build(init, dev)
            if not torch.equal(init_ids.cpu(), ids.cpu()) or net.config["resolution"] != budget.resolution:
                raise ValueError(
                    "the parent's autoencoder was trained on other identities or another resolution; "
                    "a warm start needs the same world split and budget resolution"
                )
            steps = budget.finetune_steps
            if steps == 0:
                return init
        rows = identity_rows(ids, faces.identity.to(torch.int64), "training")
        opt = torch.optim.Adam(net.parameters(), lr=budget.lr, betas=(0.5, 0.999))
        weight = 1 + 2 * to_crop(
            stages.face_mask(faces.landmarks, (faces.size, faces.size), dict(genome.genes)).expand(
                -1, 3, -1, -1
            ),
            faces.landmarks,
            budget.resolution,
        )  # the face counts three times the background: it is what the swap shows
        net.train()
        losses = []
        for _ in range(steps):
            idx = torch.randint(
                len(crops), (budget.batch_size,), generator=generator, device=generator.device
            )
            idx = idx.to(dev)
            x = crops[idx]
            rec = net.decode(net.encode(random_warp(x, generator)), net.embed(rows[idx]))
            loss = ((rec - x).abs() * weight[idx]).mean() / weight[idx].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        net.eval()
        k = max(1, steps // 10)
        meta = {
            "config": net.config,
            "steps": steps,
            "loss": [sum(losses[:k]) / k, sum(losses[-k:]) / k] if losses else [],
        }
        return module_weights(net, meta, {IDS: ids.cpu()})

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
        """Decode target i's aligned face with source i's identity and blend it in.

        Shape:
            source, target: FaceBatch of B faces at (H, W); returns frames (B, 3, H, W) and
            masks (B, 1, H, W).
        """
        g = check_pair(source, target, genome, SPACE)
        if not isinstance(weights, StrainWeights):
            raise ValueError("an autoencoder strain needs its trained weights: call prepare() first")
        b, hw = len(target), (target.images.shape[-2], target.images.shape[-1])
        dev, dt = target.images.device, target.images.dtype
        net, ids = build(weights, dev)
        points = target.landmarks
        if g["align_jitter"] > 0:
            jitter = torch.randn((b, 5, 2), generator=generator, device=generator.device, dtype=dt)
            points = points + g["align_jitter"] * jitter.to(dev)
        src_rows = identity_rows(ids, source.identity.to(dev, torch.int64), "source")
        tgt_rows = identity_rows(ids, target.identity.to(dev, torch.int64), "target")
        with torch.no_grad():
            code = net.encode(to_crop(target.images, points, net.config["resolution"]))
            emb = torch.lerp(net.embed(tgt_rows), net.embed(src_rows), float(g["identity_mix"]))
            crop = net.decode(code, emb)
        face = from_crop(crop, points, hw).clamp(0, 1)
        mask = stages.face_mask(target.landmarks, hw, g)
        out = stages.paste(face, target.images, mask, g)
        return Swapped(out, mask, Genome(SPACE.family, g))
