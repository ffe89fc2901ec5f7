"""Run specs: YAML validated into typed, frozen models before anything starts.

Unknown keys, wrong types and unknown registry names fail with a message that names the key
and the valid choices. Dotted command-line overrides (`rounds=3 detectors.0.strategy=frozen`)
are applied to the raw mapping before validation, so they are checked the same way.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from deepfake_arena.detectors.train_config import EnsembleK, ReplaySize, StrategyOptions, TrainConfig
from deepfake_arena.errors import SpecError
from deepfake_arena.generators.train_budget import TrainBudget

# Upper bounds on counts, far above any run this code can finish, so that a typo (an extra zero or
# six) is refused at once instead of allocating until the machine kills the run. How much memory a
# valid spec's images take per round is estimated before Ray starts as well (deepfake_arena.preflight).
MAX_FACES = 1_000_000  # faces of one kind in one round or split
MAX_STRAINS = 1_000  # strains in a population, an innovation, a vault family
MAX_STEPS = 10_000_000  # optimiser steps
MAX_BATCH = 65_536
MAX_SPEC_BYTES = 1 << 20  # a spec file, or one override
MAX_SPEC_DEPTH = 64  # nesting of mappings and lists


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitCounts(_Strict):
    train: int = Field(ge=1, le=MAX_FACES)
    eval: int = Field(ge=1, le=MAX_FACES)


class IdentityCounts(_Strict):
    train: int = Field(32, ge=2, le=MAX_FACES)
    eval: int = Field(12, ge=2, le=MAX_FACES)
    vault: int = Field(8, ge=0, le=MAX_FACES)


class SplitFractions(_Strict):
    train: float = Field(gt=0.0, lt=1.0)
    eval: float = Field(gt=0.0, lt=1.0)
    vault: float = Field(0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _at_most_one(self) -> SplitFractions:
        if self.train + self.eval + self.vault > 1.0 + 1e-9:
            raise ValueError("train + eval + vault fractions must not exceed 1")
        return self


class RoundMonths(_Strict):
    """The calendar a run's rounds stand for: round 1 covers the `months_per_round` months from
    `start`, round 2 the next ones... (recorded methods enter by their release date)."""

    start: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, round 1's first month")
    months_per_round: int = Field(1, ge=1, le=120)


class ReencodeSpec(_Strict):
    """The JPEG every face leaves through, real or fake (deepfake_arena.world.reencode): quality per face."""

    quality_low: int = Field(70, ge=1, le=100)
    quality_high: int = Field(90, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ReencodeSpec:
        if self.quality_low > self.quality_high:
            raise ValueError(f"quality_low ({self.quality_low}) exceeds quality_high ({self.quality_high})")
        return self


class WorldSpec(_Strict):
    kind: Literal["synthetic", "folder"] = "synthetic"
    path: str | None = Field(None, description="folder: a faceset made by `arena ingest SRC --out DIR`")
    resolution: int = Field(64, ge=32, le=512)
    identities: IdentityCounts = IdentityCounts()
    fractions: SplitFractions | None = Field(
        None, description="folder: split the faceset's identities by fractions instead of `identities`"
    )
    reals_per_round: SplitCounts = SplitCounts(train=256, eval=128)
    capture_drift: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="per-round step of the capture conditions' random walk (world.capture); 0: fixed",
    )
    reencode: ReencodeSpec | None = Field(
        None, description="every face, real or fake, re-encoded as JPEG after the capture; null: off"
    )
    credit: str | None = Field(None, description="folder: credit line for the faces (default: the faceset's)")
    round_months: RoundMonths | None = Field(
        None, description="the months each round stands for (population.recorded enters methods by date)"
    )

    @model_validator(mode="after")
    def _folder_has_a_faceset(self) -> WorldSpec:
        if self.kind != "folder":
            if self.path is not None or self.fractions is not None:
                raise ValueError("world.path and world.fractions apply only to kind: folder")
            return self
        if not self.path:
            raise ValueError("world.kind 'folder' needs world.path, a faceset: arena ingest SRC --out DIR")
        # Absolute, so Ray workers and `arena resume` find it whatever their working directory.
        object.__setattr__(self, "path", str(Path(self.path).expanduser().resolve()))
        from deepfake_arena.errors import ArenaUserError
        from deepfake_arena.world.identity_split import check_faceset

        try:
            manifest = check_faceset(self)
        except ArenaUserError as exc:  # not a ValueError: reaches the user as one line, not wrapped
            raise SpecError(f"invalid spec: world.path: {exc}") from None
        if self.credit is None:  # recorded in spec.resolved.json, where reports read it
            object.__setattr__(self, "credit", str(manifest["credit"]))
        return self


class ExtractorSpec(_Strict):
    """The face extractor in front of the detectors on a real-photo world (rounds.extraction)."""

    steps: int = Field(400, ge=1, le=MAX_STEPS, description="optimiser steps of its training in round 1")
    batch_size: int = Field(32, ge=1, le=MAX_BATCH)
    lr: float = Field(3e-3, gt=0)
    width: int = Field(16, ge=4, le=128, description="channels of its first conv layer")
    faces: int = Field(512, ge=16, le=MAX_FACES, description="train-split real faces it learns from")
    miss_threshold: float = Field(
        0.25, gt=0, description="RMS landmark residual, in eye distances, above which a face is missed"
    )


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class GeneratorTrainSpec(TrainBudget):
    """A learning family's budget (`generators.train_budget.TrainBudget`, defined there once) and
    where the arena finds pretrained weights for it."""

    pretrained: str | None = Field(default=None, description="diffusion: a local UNet2DModel directory")

    def __post_init__(self) -> None:
        if self.pretrained is not None:  # absolute, so Ray workers and `arena resume` find it
            object.__setattr__(self, "pretrained", str(Path(self.pretrained).expanduser().resolve()))

    def budget(self) -> TrainBudget:
        """The part the family reads."""
        return TrainBudget(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TrainBudget)})


class InnovationSpec(_Strict):
    family: str
    round: int = Field(ge=1, description="the first round the family's new strains play")
    strains: int = Field(
        1, ge=1, le=MAX_STRAINS, description="strains it enters with (the population grows by them)"
    )
    method: str | None = Field(None, description="recorded: the labelled faceset's method it serves")


class RecordedSpec(_Strict):
    """Recorded methods that enter by their release date (generators.recorded, world.recorded)."""

    methods: list[str] | None = Field(
        None, description="methods of the world's labelled faceset; None: every method it has"
    )


class PopulationSpec(_Strict):
    families: list[str] = Field(
        default_factory=lambda: ["blend"],
        max_length=MAX_STRAINS,
        description="evolving families of round 1; []: none (recorded strains alone, size: 0)",
    )
    size: int = Field(6, ge=0, le=MAX_STRAINS, description="evolving strains; 0 with families: []")
    elite: int = Field(2, ge=0, le=MAX_STRAINS)
    tournament: int = Field(2, ge=1, le=MAX_STRAINS)
    mutation_rate: float = Field(0.3, ge=0.0, le=1.0)
    mutation_scale: float = Field(0.15, gt=0.0, le=1.0)
    crossover: float = Field(0.3, ge=0.0, le=1.0)
    quality_floor: float = Field(0.5, ge=0.0, le=1.0)
    psnr_floor: float = Field(0.0, ge=0.0, description="dB outside the face; fakes below count no evasion")
    spectral_ceiling: float = Field(1.0, gt=0.0, description="spectral distance above which quality falls")
    fakes_per_strain: SplitCounts = SplitCounts(train=64, eval=32)
    innovation: list[InnovationSpec] = Field(default_factory=list, description="families unlocking later")
    recorded: RecordedSpec | None = Field(
        None, description="real methods replayed from the labelled world faceset, by release date"
    )
    training: dict[str, GeneratorTrainSpec] = Field(
        default_factory=dict, description="learning family -> training budget (defaults when absent)"
    )

    @model_validator(mode="after")
    def _elite_fits(self) -> PopulationSpec:
        if (self.size == 0) != (not self.families):
            raise ValueError(
                f"families {self.families} with size {self.size}: a population without evolving "
                "strains has families: [] and size: 0 (and elite: 0); otherwise name at least one family"
            )
        if self.elite > self.size:
            alone = "; without evolving strains set elite: 0" if self.size == 0 else ""
            raise ValueError(f"elite ({self.elite}) cannot exceed size ({self.size}){alone}")
        if len(self.families) > self.size:
            raise ValueError(
                f"size ({self.size}) is smaller than the number of families ({len(self.families)}); "
                "each family starts with at least one strain"
            )
        return self


class WeightsSpec(_Strict):
    """Published weights a detector starts from (deepfake_arena.detectors.weights_import)."""

    path: str = Field(description="a .pth/.pt/.bin state dict, a .safetensors file or Keras .h5 weights")
    format: Literal["auto", "torch", "safetensors", "keras"] = Field(
        "auto", description="auto: from the file's suffix"
    )

    @model_validator(mode="after")
    def _absolute_path(self) -> WeightsSpec:  # absolute, so Ray workers and `arena resume` find it
        object.__setattr__(self, "path", str(Path(self.path).expanduser().resolve()))
        return self


class DetectorSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    arch: str = "meso4"
    arch_config: dict[str, Any] = Field(default_factory=dict)
    strategy: str = "finetune"
    scratch: TrainConfig = TrainConfig(steps=200)
    finetune: TrainConfig = TrainConfig(steps=80)
    training: str = Field("supervised", description="supervised | sbi (self-blended pseudo-fakes from reals)")
    training_config: dict[str, Any] = Field(default_factory=dict, description="e.g. sbi's SelfBlendConfig")
    replay_size: ReplaySize = StrategyOptions.replay_size  # the strategy's own type, bounds and default
    ensemble_k: EnsembleK = StrategyOptions.ensemble_k
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="autocast (the GPU path)")
    compile: bool = Field(False, description="torch.compile the forward passes (the GPU path)")
    exposed: bool = Field(
        True,
        description="the generators meet it in the field: its scores drive selection and evasion "
        "queries it; false: a lab detector the attackers never see (still scored every round)",
    )
    weights: WeightsSpec | None = Field(
        None,
        description="start from published weights: deployed from round 1's zero-day on; frozen "
        "never trains, the other strategies (not scratch) continue with the finetune budget",
    )

    def strategy_options(self) -> StrategyOptions:
        """What the retraining strategy reads of this spec."""
        return StrategyOptions(replay_size=self.replay_size, ensemble_k=self.ensemble_k)

    @model_validator(mode="after")
    def _scratch_discards_weights(self) -> DetectorSpec:
        if self.weights is not None and self.strategy == "scratch":
            raise ValueError(
                "strategy 'scratch' re-initialises the detector every round and would discard "
                "its imported weights; use frozen, finetune, replay or ensemble"
            )
        return self


class RoleResources(_Strict):
    num_cpus: float = Field(1.0, gt=0)
    num_gpus: float = Field(0.0, ge=0)
    memory: int | None = Field(None, gt=0, description="bytes of RAM Ray reserves per task; None: none")

    def ray_options(self) -> dict[str, Any]:
        """The Ray task options of this role (memory only when reserved)."""
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory is not None:
            opts["memory"] = self.memory
        return opts


class ResourcesSpec(_Strict):
    generator: RoleResources = RoleResources()
    detector: RoleResources = RoleResources()


class MetricsSpec(_Strict):
    bootstrap: int = Field(200, ge=0, le=100_000)
    confidence: float = Field(0.95, gt=0.0, lt=1.0)


class ExternalSetSpec(_Strict):
    """A labelled faceset of real deepfakes (`arena ingest SRC --labels FILE`) that every zero-day
    and post version scores every round (phase `external`, deepfake_arena.rounds.external)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="the set's name in results and plots")
    path: str = Field(description="the labelled faceset's folder")
    max_faces: int | None = Field(
        None, ge=2, description="score a fixed random subset of this many faces; None: every face"
    )

    @model_validator(mode="after")
    def _labelled_faceset(self) -> ExternalSetSpec:
        # Absolute, so Ray workers and `arena resume` find it whatever their working directory.
        object.__setattr__(self, "path", str(Path(self.path).expanduser().resolve()))
        from deepfake_arena.errors import ArenaUserError
        from deepfake_arena.world.faceset import check_external

        try:
            check_external(self.path)
        except ArenaUserError as exc:  # not a ValueError: reaches the user as one line, not wrapped
            raise SpecError(f"invalid spec: evaluation.external {self.name}: {exc}") from None
        return self


class EvaluationSpec(_Strict):
    past_budget: int = Field(
        64,
        ge=1,
        le=MAX_FACES,
        description="reals and fakes per strain kept per generation for the `past` phase",
    )
    external: list[ExternalSetSpec] = Field(
        default_factory=list,
        description="labelled facesets of real deepfakes scored by every version every round",
    )
    jpeg_qualities: list[int] = Field(
        default_factory=list,
        max_length=8,
        description="JPEG qualities (1-100) at which every post version also scores this round's "
        "eval faces, re-encoded (phases `jpeg95`, ...; deepfake_arena.rounds.recompress); [] = off",
    )

    @model_validator(mode="after")
    def _unique_external_names(self) -> EvaluationSpec:
        names = [e.name for e in self.external]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"evaluation.external names must be unique; repeated: {', '.join(dupes)}")
        q = self.jpeg_qualities
        if any(not 1 <= x <= 100 for x in q) or len(set(q)) != len(q):
            raise ValueError(f"evaluation.jpeg_qualities must be distinct integers in [1, 100], got {q}")
        return self


class VaultStrainSpec(_Strict):
    family: str
    genes: dict[str, Any] = Field(default_factory=dict, description="overrides of the default genome")


class VaultSpec(_Strict):
    """Sealed strains: made from the vault identities and scored every round (phase `sealed`),
    never used for training, evolution or model selection."""

    families: list[str] = Field(default_factory=list, description="each gives `strains_per_family` strains")
    strains_per_family: int = Field(
        1, ge=1, le=MAX_STRAINS, description="the default genome first, then random genomes"
    )
    strains: list[VaultStrainSpec] = Field(
        default_factory=list, max_length=MAX_STRAINS, description="explicit sealed genomes"
    )
    reals: int = Field(48, ge=2, le=MAX_FACES, description="real vault faces scored beside the sealed fakes")
    fakes_per_strain: int = Field(24, ge=1, le=MAX_FACES)

    @property
    def strain_count(self) -> int:
        return len(self.families) * self.strains_per_family + len(self.strains)


class RunSpec(_Strict):
    seed: int = 0
    seeds: list[int] | None = Field(None, min_length=1, description="replicates: one run per seed")
    sweep: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted key -> values; one run per combination (x seeds)"
    )
    rounds: int = Field(5, ge=1, le=100_000)
    release_lag: int = Field(
        0, ge=0, description="zero-day deploys in round r the versions trained through round r-1-lag"
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    world: WorldSpec = WorldSpec()
    population: PopulationSpec = PopulationSpec()
    detectors: list[DetectorSpec] = Field(min_length=1, max_length=256)
    metrics: MetricsSpec = MetricsSpec()
    evaluation: EvaluationSpec = EvaluationSpec()
    resources: ResourcesSpec = ResourcesSpec()
    vault: VaultSpec = VaultSpec()
    extractor: ExtractorSpec | None = Field(
        None, description="folder worlds: score every face through a trained face extractor first"
    )

    @model_validator(mode="after")
    def _extractor_needs_real_photos(self) -> RunSpec:
        if self.extractor is not None and self.world.kind != "folder":
            raise ValueError(
                "extractor applies to real-photo worlds (world.kind: folder); a synthetic world's "
                "crops are rendered aligned"
            )
        return self

    @model_validator(mode="after")
    def _vault_has_identities(self) -> RunSpec:
        if self.vault.strain_count and self.world.kind == "synthetic" and self.world.identities.vault < 2:
            raise ValueError(
                "vault strains make fakes from the vault identities: world.identities.vault must be >= 2"
            )
        return self

    @model_validator(mode="after")
    def _unique_detector_names(self) -> RunSpec:
        names = [d.name for d in self.detectors]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"detector names must be unique; repeated: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _something_to_evolve_against(self) -> RunSpec:
        if self.detectors and not any(d.exposed for d in self.detectors):
            raise ValueError(
                "at least one detector must be exposed (exposed: true): the generators evolve "
                "against the detectors they meet in the field"
            )
        return self

    @model_validator(mode="after")
    def _lag_leaves_a_zero_day(self) -> RunSpec:
        if self.release_lag > 0 and self.release_lag > self.rounds - 2:
            raise ValueError(
                f"release_lag {self.release_lag} leaves no round with a deployed detector in "
                f"{self.rounds} rounds (round r deploys the version of round r-1-lag); "
                f"need release_lag <= rounds - 2"
            )
        return self


# ---------------------------------------------------------------------------------------------
# Loading, overrides, friendly errors


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (`*name`), nested at most MAX_SPEC_DEPTH deep: a few
    hundred bytes of aliases can expand to gigabytes (the 'billion laughs'), and a spec never
    needs them; deep nesting would exhaust the parser's stack instead."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not accepted in a spec; write the value out", mark
            )
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_SPEC_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_SPEC_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _load_yaml(text: str) -> Any:
    """Parse YAML with `_NoAliasLoader`; its errors are yaml.YAMLError."""
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_overrides(items: list[str]) -> list[tuple[list[str], Any]]:
    """`a.b.0.c=value` pairs; values are parsed as YAML scalars/lists (`3`, `true`, `[1,2]`)."""
    parsed = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SpecError(f"override {_short(item)!r} is not of the form key.path=value")
        if len(item.encode("utf-8", "surrogateescape")) > MAX_SPEC_BYTES:
            raise SpecError(f"override {_short(item)!r} is longer than {MAX_SPEC_BYTES} bytes")
        try:
            value = _load_yaml(raw)
        except (yaml.YAMLError, RecursionError) as exc:
            raise SpecError(
                f"override {_short(item)!r}: value is not valid YAML ({_one_line(exc)})"
            ) from None
        except UnicodeError:
            raise SpecError(f"override {_short(item)!r}: not valid UTF-8 text") from None
        parsed.append((key.split("."), value))
    return parsed


def _short(text: str, most: int = 80) -> str:
    return text if len(text) <= most else text[:most] + "..."


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def apply_overrides(raw: dict[str, Any], overrides: list[tuple[list[str], Any]]) -> dict[str, Any]:
    try:
        data = json.loads(json.dumps(raw))  # deep copy of plain data
    except (TypeError, ValueError, RecursionError) as exc:
        raise SpecError(f"a spec must hold plain data (mappings, lists, scalars): {_one_line(exc)}") from None
    for path, value in overrides:
        node: Any = data
        for i, part in enumerate(path[:-1]):
            nxt = _child(node, part, path[: i + 1])
            if nxt is None:
                nxt = {}
                _set(node, part, nxt, path[: i + 1])
            node = nxt
        _set(node, path[-1], value, path)
    return data


def _child(node: Any, part: str, where: list[str]) -> Any:
    if isinstance(node, list):
        idx = _index(node, part, where)
        return node[idx]
    if isinstance(node, dict):
        return node.get(part)
    raise SpecError(f"override {'.'.join(where)}: cannot index into a {type(node).__name__}")


def _set(node: Any, part: str, value: Any, where: list[str]) -> None:
    if isinstance(node, list):
        node[_index(node, part, where)] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise SpecError(f"override {'.'.join(where)}: cannot set a key on a {type(node).__name__}")


def _index(node: list[Any], part: str, where: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise SpecError(f"override {'.'.join(where)}: index must be 0..{len(node) - 1}")
    return int(part)


def _fields_of(model: Any) -> dict[str, Any] | None:
    """Field name -> FieldInfo of a spec model or of a component's pydantic dataclass it embeds."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return dict(model.model_fields)
    fields = getattr(model, "__pydantic_fields__", None)
    return dict(fields) if isinstance(model, type) and dataclasses.is_dataclass(model) and fields else None


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at a location, found by walking the model classes."""
    model: Any = RunSpec
    mapping = False  # the previous part was a dict field: this part is one of its keys
    for part in loc[:-1]:
        if isinstance(part, int) or mapping:
            mapping = False
            continue
        field = (_fields_of(model) or {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        mapping = getattr(ann, "__origin__", None) is dict
        nested = [a for a in (ann, *args) if _fields_of(a) is not None]
        if not nested:
            return []
        model = nested[0]
    return sorted(_fields_of(model) or {})


def _format_validation(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in ("function-after",))
        key = ".".join(str(p) for p in loc) or "(spec)"
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            lines.append(f"{key}: unknown key; valid keys here: {', '.join(_valid_keys(loc))}")
        elif err["type"] == "literal_error":
            lines.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
        else:
            lines.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "invalid spec: " + "; ".join(lines)


def validate_spec(data: dict[str, Any], *, check_names: bool = True) -> RunSpec:
    if not isinstance(data, dict):
        raise SpecError(f"a spec must be a mapping of keys to values, got {type(data).__name__}")
    try:
        spec = RunSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_validation(exc)) from None
    if check_names:
        check_registry_names(spec)
    return spec


def check_registry_names(spec: RunSpec) -> None:
    """Unknown family, architecture or strategy names fail here, before Ray starts."""
    from deepfake_arena.detectors import DETECTORS, STRATEGIES
    from deepfake_arena.detectors.registry import build_detector_network
    from deepfake_arena.detectors.strategies import TRAININGS, make_pseudo_fakes
    from deepfake_arena.generators import FAMILIES

    problems = []
    for i, fam in enumerate(spec.population.families):
        if fam not in FAMILIES:
            problems.append(
                f"population.families.{i}: unknown generator family {fam!r}; "
                f"valid choices: {', '.join(FAMILIES.names())}"
            )
    from deepfake_arena.spec_generators import generator_problems

    problems += generator_problems(spec)  # innovation, vault, training budgets, pretrained paths
    from deepfake_arena.world.recorded import recorded_problems

    problems += recorded_problems(spec)  # recorded methods: labelled faceset, dates, rounds
    for i, det in enumerate(spec.detectors):
        if det.arch not in DETECTORS:
            problems.append(
                f"detectors.{i}.arch: unknown detector architecture {det.arch!r}; "
                f"valid choices: {', '.join(DETECTORS.names())}"
            )
        else:
            try:
                build_detector_network(det.arch, det.arch_config)
            except (TypeError, ValueError) as exc:
                problems.append(f"detectors.{i}.arch_config: {exc}")
            else:
                if det.weights is not None:
                    from deepfake_arena.detectors.weights_import import WeightsError, import_weights

                    try:
                        import_weights(det.arch, det.arch_config, det.weights.path, det.weights.format)
                    except WeightsError as exc:
                        problems.append(f"detectors.{i}.weights: {exc}")
        if det.strategy not in STRATEGIES:
            problems.append(
                f"detectors.{i}.strategy: unknown retraining strategy {det.strategy!r}; "
                f"valid choices: {', '.join(STRATEGIES.names())}"
            )
        if det.training not in TRAININGS:
            problems.append(
                f"detectors.{i}.training: unknown training mode {det.training!r}; "
                f"valid choices: {', '.join(TRAININGS.names())}"
            )
        else:
            try:
                make_pseudo_fakes(det.training, det.training_config)
            except (TypeError, ValueError) as exc:
                problems.append(f"detectors.{i}.training_config: {exc}")
    if problems:
        raise SpecError("invalid spec: " + "; ".join(problems))


def read_spec_file(path: str | Path) -> tuple[dict[str, Any], str]:
    """A spec file's raw mapping and its text; a missing file or bad YAML is a SpecError."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file not found: {path}")
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES} bytes; not a run spec")
        with open(path, "rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES} bytes; not a run spec")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        raw = _load_yaml(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise SpecError(f"{path}: not valid YAML ({_one_line(exc)})") from None
    raw = raw if raw is not None else {}
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a spec must be a mapping of keys to values")
    return raw, text


def load_spec(path: str | Path, overrides: list[str] | None = None) -> tuple[RunSpec, str]:
    """Read, override and validate a YAML spec; returns the spec and the file's text."""
    raw, text = read_spec_file(path)
    data = apply_overrides(raw, parse_overrides(overrides or []))
    return validate_spec(data), text


def resolved_json(spec: RunSpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), indent=2, sort_keys=True)
