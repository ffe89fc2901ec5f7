"""Spec checks of the generator side: innovation schedule, vault, training budgets (issue 4)."""

import pytest

from deepfake_arena.errors import SpecError
from deepfake_arena.spec import load_spec
from tests.conftest import QUICKSTART


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "population.innovation=[{family: gan, round: 3}]",
            "population.innovation.0.family: unknown generator family 'gan'; "
            "valid choices: autoencoder, blend, diffusion",
        ),
        ("population.innovation=[{family: autoencoder, round: 0}]", "population.innovation.0.round"),
        (
            "vault={families: [blend], strains: [{family: diffusion, genes: {refine_strength: 2.0}}]}",
            "vault.strains.0.genes: gene 'refine_strength' must be a float in [0, 0.8], got 2.0",
        ),
        ("vault={families: [nope]}", "vault.families.0: unknown generator family 'nope'"),
        ("vault.sealed=true", "vault.sealed: unknown key; valid keys here: fakes_per_strain, families"),
        (
            "population.training={blend: {steps: 5}}",
            "population.training.blend: 'blend' is not a learning family; "
            "valid choices: autoencoder, diffusion",
        ),
        (
            "population.training={autoencoder: {resolution: 20}}",
            "resolution: Input should be a multiple of 8",
        ),
        (
            "population.training={diffusion: {pretrained: /no/such/unet}}",
            "population.training.diffusion.pretrained: no directory /no/such/unet",
        ),
        (
            "world.identities={train: 8, eval: 4, vault: 0}",
            None,  # fine without a vault ...
        ),
    ],
)
def test_bad_generator_specs_name_the_key(override, message):
    if message is None:
        load_spec(QUICKSTART, [override])
        with pytest.raises(SpecError, match="world.identities.vault must be >= 2"):
            load_spec(QUICKSTART, [override, "vault={families: [blend]}"])  # ... but not with one
        return
    with pytest.raises(SpecError) as info:
        load_spec(QUICKSTART, [override])
    assert message in str(info.value)


def test_evolution_spec_is_valid():
    from tests.conftest import REPO

    spec, _ = load_spec(REPO / "runs" / "evolution.yaml")
    assert [i.family for i in spec.population.innovation] == ["autoencoder", "diffusion"]
    assert spec.vault.strain_count == 2 and spec.population.training["autoencoder"].steps > 0
