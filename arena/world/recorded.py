"""The recorded fakes of a labelled faceset, and when each method arrives in a run.

A labelled faceset (``arena ingest SRC --labels FILE``) has three more, nullable index columns:
``label`` (0 real, 1 fake), ``method`` (which technique made a fake) and ``released`` (when
that method came out: ``YYYY-MM-DD`` or ``YYYY-MM``). The ``recorded`` generator family
(:mod:`deepfake_arena.generators.recorded`) serves one method's fakes as a strain; this module reads what it
needs from the index and maps release dates to rounds through ``world.round_months``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.faceset import is_labelled, labelled_index, read_manifest
from deepfake_arena.world.labels import LABEL_COLUMNS

FAMILY = "recorded"
_MONTH = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


def read_labels(path: str | Path) -> pd.DataFrame | None:
    """``identity``, ``source`` and the label columns of every index row, in index order; None for
    a faceset without labels. ``label`` is 1 for fakes, 0 or missing otherwise."""
    index = labelled_index(path)
    if not is_labelled(index):
        return None
    df = index[["identity", "source", *LABEL_COLUMNS]].copy()
    df["label"] = df["label"].fillna(0).astype("int8")
    return df


@lru_cache(maxsize=8)
def _methods_cached(path: str, generation: int) -> tuple[tuple[str, str | None], ...]:
    labels = read_labels(path)
    if labels is None:
        return ()
    fakes = labels[(labels["label"] == 1) & labels["method"].notna()]
    out = []
    for method, group in fakes.groupby("method", sort=True):
        dates = sorted({str(d) for d in group["released"].dropna()})
        try:
            first = min(dates, key=month_of) if dates else None
        except ValueError as exc:
            raise ArenaUserError(f"faceset {path}: method {method!r}: released {exc}") from None
        out.append((str(method), first))
    return tuple(out)


def recorded_methods(path: str | Path) -> dict[str, str | None]:
    """Each fake ``method`` of a labelled faceset -> its earliest ``released`` date (None when
    none is given); empty for an unlabelled faceset."""
    generation = int(read_manifest(path)["generation"])
    return dict(_methods_cached(str(Path(path).resolve()), generation))


def month_of(date: str) -> int:
    """Months since year 0 of ``YYYY-MM`` or ``YYYY-MM-DD``.

    Raises:
        ValueError: another format, or a month outside 1..12.
    """
    m = _MONTH.fullmatch(str(date).strip())
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"{date!r} is not a date of the form YYYY-MM or YYYY-MM-DD")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def entry_round(released: str, start: str, months_per_round: int) -> int:
    """The round a method released in month ``released`` first plays: round 1 covers the
    ``months_per_round`` months from ``start``, round 2 the next ones, and so on; a method
    released before ``start`` is already out in round 1."""
    return max(1, (month_of(released) - month_of(start)) // months_per_round + 1)


def arrivals(spec: Any) -> dict[str, int]:
    """method -> the round it enters, for every recorded method of a spec: those given a round
    in ``population.innovation``, and those of ``population.recorded`` by their release date
    (``world.round_months``). Validated specs only (see :func:`recorded_problems`)."""
    pop = spec.population
    out = {inn.method: inn.round for inn in pop.innovation if inn.family == FAMILY and inn.method}
    if pop.recorded is not None and spec.world.path is not None and spec.world.round_months is not None:
        known = recorded_methods(spec.world.path)
        rm = spec.world.round_months
        for method in pop.recorded.methods or sorted(known):
            released = known.get(method)
            if method not in out and released is not None:
                out[method] = entry_round(released, rm.start, rm.months_per_round)
    return out


def recorded_problems(spec: Any) -> list[str]:
    """What is wrong with a spec's recorded strains, one entry per problem (empty when fine)."""
    pop = spec.population
    problems: list[str] = []
    uses = pop.recorded is not None
    for i, inn in enumerate(pop.innovation):
        key = f"population.innovation.{i}"
        if inn.family == FAMILY:
            uses = True
            if not inn.method:
                problems.append(f"{key}.method: a recorded strain serves one method's fakes; name it")
            if inn.strains != 1:
                problems.append(f"{key}.strains: a recorded method enters as one strain, got {inn.strains}")
        elif inn.method is not None:
            problems.append(f"{key}.method: only the {FAMILY} family serves a method, not {inn.family}")
    if FAMILY in pop.families:
        problems.append(
            f"population.families: {FAMILY} strains enter through population.innovation "
            "(with a method and a round) or population.recorded (by release date)"
        )
    if FAMILY in spec.vault.families or any(s.family == FAMILY for s in spec.vault.strains):
        problems.append(f"vault: {FAMILY} strains do not play the vault")
    if not uses:
        return [*problems, *_empty_first_round(spec, {})]
    if spec.world.kind != "folder" or spec.world.path is None:
        return [*problems, f"{FAMILY} strains need world.kind: folder on a labelled faceset"]
    try:
        known = recorded_methods(spec.world.path)
    except ArenaUserError as exc:
        return [*problems, f"world.path: {exc}"]
    if not known:
        return [
            *problems,
            f"world.path: {spec.world.path} has no labelled fakes with a method "
            "(ingest it with arena ingest SRC --labels FILE)",
        ]
    valid = ", ".join(sorted(known))
    for i, inn in enumerate(pop.innovation):
        if inn.family == FAMILY and inn.method and inn.method not in known:
            problems.append(
                f"population.innovation.{i}.method: no fakes of {inn.method!r}; valid choices: {valid}"
            )
    if pop.recorded is not None:
        given = {inn.method for inn in pop.innovation if inn.family == FAMILY}
        for j, method in enumerate(pop.recorded.methods or sorted(known)):
            key = f"population.recorded.methods.{j}"
            if method not in known:
                problems.append(f"{key}: no fakes of {method!r}; valid choices: {valid}")
            elif method not in given and known[method] is None:
                problems.append(
                    f"{key}: {method!r} has no released date in the faceset; give it a round in "
                    "population.innovation"
                )
            elif method not in given and spec.world.round_months is None:
                problems.append(
                    "world.round_months: population.recorded enters methods by release date; "
                    "map rounds to months, e.g. {start: 2019-01, months_per_round: 3}"
                )
                break
    return [*problems, *_empty_first_round(spec, arrivals(spec) if not problems else {"?": 1})]


def _empty_first_round(spec: Any, entries: dict[str, int]) -> list[str]:
    """A population without evolving strains (``size: 0``) needs a strain in round 1: the
    detectors train on round 1's fakes and there would be none."""
    pop = spec.population
    if pop.size > 0 or any(inn.round == 1 for inn in pop.innovation) or 1 in entries.values():
        return []
    first = f"round {min(entries.values())}" if entries else "no round"
    return [
        "population.size: 0 (no evolving strains) but no strain plays round 1 (the first arrives in "
        f"{first}); give a recorded method round 1 in population.innovation, or start "
        "world.round_months before the first release"
    ]
