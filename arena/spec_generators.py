"""Checks of the generator side of a spec that need the family registry: innovation schedule,
vault, training budgets and pretrained weights. Each problem names its key and the valid choices."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def generator_problems(spec: Any) -> list[str]:
    """Problems of an `deepfake_arena.spec.RunSpec`'s generator side (typed Any: the spec calls this, so
    importing its type here would make an import cycle)."""
    from deepfake_arena.generators import FAMILIES
    from deepfake_arena.generators.genome import default_genome

    valid = ", ".join(FAMILIES.names())
    learning = [n for n in FAMILIES.names() if FAMILIES.get(n).learns]
    problems: list[str] = []

    def family_ok(key: str, family: str) -> bool:
        if family in FAMILIES:
            return True
        problems.append(f"{key}: unknown generator family {family!r}; valid choices: {valid}")
        return False

    for i, inn in enumerate(spec.population.innovation):
        family_ok(f"population.innovation.{i}.family", inn.family)
    for i, fam in enumerate(spec.vault.families):
        family_ok(f"vault.families.{i}", fam)
    for i, vs in enumerate(spec.vault.strains):
        if family_ok(f"vault.strains.{i}.family", vs.family):
            space = FAMILIES.get(vs.family).gene_space
            try:
                space.validate({**default_genome(space).genes, **vs.genes})
            except ValueError as exc:
                problems.append(f"vault.strains.{i}.genes: {exc}")
    for fam, budget in spec.population.training.items():
        key = f"population.training.{fam}"
        if fam not in learning:
            problems.append(f"{key}: {fam!r} is not a learning family; valid choices: {', '.join(learning)}")
            continue
        if budget.pretrained is not None:
            if not hasattr(FAMILIES.get(fam), "load_pretrained"):
                problems.append(f"{key}.pretrained: the {fam} family cannot load pretrained weights")
            elif not Path(budget.pretrained).is_dir():
                problems.append(
                    f"{key}.pretrained: no directory {budget.pretrained}; give a local folder written by "
                    "save_pretrained (weights are never downloaded)"
                )
    return problems
