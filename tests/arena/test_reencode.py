"""The platform's JPEG (world.reencode): a real codec at a quality drawn per face, applied alike to
the reals and to every strain's fakes (off by default: the quickstart's results stay bit-identical,
checked by the quickstart bitcheck)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_arena.generators.population import initial_population
from deepfake_arena.rounds import tasks as work
from deepfake_arena.spec import IdentityCounts, ReencodeSpec, WorldSpec
from deepfake_arena.world.reencode import reencode

OFF = WorldSpec(resolution=32, identities=IdentityCounts(train=4, eval=3, vault=0))
ON = OFF.model_copy(update={"reencode": ReencodeSpec(quality_low=60, quality_high=80)})
QUALITIES = range(60, 81)


def _jpeg(face: np.ndarray, q: int) -> np.ndarray:
    """PIL's encoder and decoder called here directly, the oracle for what the world does (4:2:0)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(face.transpose(1, 2, 0)).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(buf).convert("RGB")).transpose(2, 0, 1)


def _quality_of(before: np.ndarray, after: np.ndarray) -> int | None:
    """The quality in range whose re-encode of `before` is within a level of `after`, if any."""
    for q in QUALITIES:
        if np.abs(_jpeg(before, q).astype(int) - after.astype(int)).max() <= 1:
            return q
    return None


def test_each_face_goes_through_a_real_jpeg_at_a_drawn_quality():
    faces = work.make_reals(OFF, 0, 1, "train", 8, 1)
    out = reencode(faces, 60, 80, torch.Generator().manual_seed(1))
    qualities = [_quality_of(f, o) for f, o in zip(faces, out, strict=True)]
    assert None not in qualities and len(set(qualities)) > 2  # drawn per face, not one for all
    again = reencode(faces, 60, 80, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(out, again)
    with pytest.raises(ValueError, match="uint8"):
        reencode(faces.astype(np.float32), 60, 80, torch.Generator())


def test_reals_and_fakes_share_the_chain():
    r_off, r_on = (work.make_reals(w, 0, 2, "eval", 6, 1) for w in (OFF, ON))
    assert all(_quality_of(a, b) is not None for a, b in zip(r_off, r_on, strict=True))
    strain = initial_population(["blend"], 1, torch.Generator().manual_seed(3))[0]
    counts = {"train": 3, "eval": 3}
    f_off, f_on = (work.make_fakes(w, 5, 2, strain, counts, 1, "cpu").fakes for w in (OFF, ON))
    for split in counts:
        assert all(_quality_of(a, b) is not None for a, b in zip(f_off[split], f_on[split], strict=True))
        assert not np.array_equal(f_off[split], f_on[split])
    with pytest.raises(ValueError, match="quality_low .90. exceeds quality_high .80."):
        ReencodeSpec(quality_low=90, quality_high=80)
