"""Typed, validated params: the parts every recipe shares, and the loader.

A stage loads exactly the keys its dvc.yaml entry declares (its `params(argv)`, checked against
dvc.yaml by tests/test_dvc_deps.py): a whole section or subsection as its dataclass, or a *view*
of one (`reslab.core.sections`). Each class states its bounds in its own fields (pydantic checks
them); an unknown key, a missing key, a wrong type or an out-of-range value is a `ConfigError`
of one line naming the key and the value, so that a typo in `dvc exp run -S ...` fails before
any work starts. params.yaml is read with the YAML parser DVC uses (ruamel, YAML 1.2: `1e-4` is
a number there as here). No field has a default: params.yaml is the one place a value is said.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass
from ruamel.yaml import YAML, YAMLError

from reslab.core.errors import ConfigError

PARAMS_FILE = Path("params.yaml")


def _number(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    return value


Float = Annotated[float, BeforeValidator(_number)]
NonNeg = Annotated[Float, Field(ge=0)]
Positive = Annotated[Float, Field(gt=0)]
Count = Annotated[StrictInt, Field(ge=0)]  # 0 often means "all" or "never"
AtLeastOne = Annotated[StrictInt, Field(ge=1)]
Seed = Annotated[StrictInt, Field(ge=0)]
Optimizer = Literal["adam", "adamw", "sgd", "sgd_momentum"]
Scheduler = Literal["none", "plateau", "cosine"]
Arch = Literal["plain", "residual"]


def _auto(value):
    if isinstance(value, bool) or value == "auto":
        return value
    raise ValueError("expected true, false or auto")


Auto = Annotated[bool | str, BeforeValidator(_auto)]


def params_class(cls):
    """A frozen dataclass whose fields pydantic validates, refusing keys it does not know."""
    return pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid", defer_build=True))(cls)


@params_class
class RuntimeConfig:
    """`runtime`: how a run is carried out, never what it computes. No stage declares it as a
    dependency, so switching wandb or progress bars off re-trains nothing."""

    device: StrictStr  # auto = CUDA when present (cuda:LOCAL_RANK under torchrun), else CPU
    wandb: StrictBool  # mode: WANDB_MODE, wandb's settings, else offline (core.track)
    wandb_project: StrictStr
    progress: StrictBool  # tqdm bars (shown only on a terminal)


@params_class
class LoopConfig:
    """How the engine trains, apart from the optimizer (which a transfer ladder sets)."""

    epochs: AtLeastOne
    batch_size: AtLeastOne  # global: split across the processes of a DDP run
    eval_batch_size: AtLeastOne
    scheduler: Scheduler
    plateau_factor: Annotated[Float, Field(gt=0, lt=1)]
    plateau_patience: Count
    min_lr: NonNeg
    early_stop_patience: Count  # 0 = train all epochs, still restore the best
    early_stop_min_delta: NonNeg
    warmup_epochs: NonNeg  # linear warm-up before the cosine schedule
    label_smoothing: Annotated[Float, Field(ge=0, lt=1)]
    # auto: what is fast and safe on the device found (reslab.train.precision); true/false force
    bf16: Auto  # autocast for training steps; evaluation always runs in fp32
    channels_last: Auto
    nproc_per_node: AtLeastOne  # > 1: data-parallel workers (torch.distributed.run)
    sync_batchnorm: StrictBool  # DDP on CUDA: BatchNorm statistics over the global batch


@params_class
class OptimizerConfig:
    """One optimizer's settings on a rung of the transfer ladder."""

    lr: Positive
    weight_decay: NonNeg
    momentum: Annotated[Float, Field(ge=0, lt=1)]  # sgd_momentum only


@params_class
class TrainConfig(LoopConfig):
    """One recipe for the training engine: the loop plus its optimizer."""

    optimizer: Optimizer
    lr: Positive
    weight_decay: NonNeg
    momentum: Annotated[Float, Field(ge=0, lt=1)]  # sgd_momentum only


def recipe(loop: LoopConfig, optimizer: Optimizer, settings: OptimizerConfig) -> TrainConfig:
    """A ladder's recipe: the rung's shared loop with one optimizer's settings."""
    return TrainConfig(**dataclasses.asdict(loop), optimizer=optimizer,
                       **dataclasses.asdict(settings))


@params_class
class AugmentConfig:
    """Train-only augmentation; all zero/false means none (the lab's CNN study)."""

    crop_padding: Count
    flip: StrictBool
    brightness: NonNeg
    contrast: NonNeg
    saturation: NonNeg
    hue: Annotated[Float, Field(ge=0, le=0.5)]

    def for_data(self, manifest: dict) -> AugmentConfig:
        """Without what would change a label of the data this manifest describes: no flip where
        `flip_changes_label` (digits: a mirrored 2, 3, 4, 5 or 7 is another shape or none)."""
        if self.flip and manifest.get("flip_changes_label"):
            return dataclasses.replace(self, flip=False)
        return self


def read_params(path: Path = PARAMS_FILE) -> dict:
    """The whole params file as a dict, read as DVC reads it, with a one-line error for a
    missing or malformed file."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        raw = YAML(typ="safe").load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    return raw


def _message(key: str, error: dict) -> str:
    """One line for pydantic's first error: the full key, the value, what was wrong."""
    where = key + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx", {})
    if kind == "missing":
        return f"{where}: missing key (params.yaml states every value)"
    if kind == "unexpected_keyword_argument":
        return f"{where}: unknown key"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
              "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"{where}: {value!r} is out of range (must be {bounds[kind]} {limit})"
    if kind == "literal_error":
        choices = ctx["expected"].replace("'", "").replace(" or ", ", ")
        return f"{where}: {value!r} is not one of {choices}"
    expected = {"int_type": "expected int", "bool_type": "expected true or false",
                "string_type": "expected str", "list_type": "expected a list",
                "dataclass_type": "expected a mapping"}
    why = str(ctx["error"]) if "error" in ctx else expected.get(kind, error["msg"])
    return f"{where}: {why}, got {value!r}"


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def is_view(cls) -> bool:
    """Whether `cls` holds part of a section (its `WHOLE`), not all of it."""
    return getattr(cls, "WHOLE", cls) is not cls


def load_params(reads: dict[str, type], path: Path = PARAMS_FILE) -> list:
    """Each key of `reads` (a section, or a dotted path into one; a stage's `params(argv)`) of
    the params file, as its class, in order; for a view (`reslab.core.sections`), the keys of
    its section that it does not hold are left to the stages that read them."""
    raw, values = read_params(path), []
    for key, cls in reads.items():
        value = raw
        for i, part in enumerate(key.split(".")):
            if not isinstance(value, dict) or part not in value:
                where = ".".join(key.split(".")[:i + 1])
                raise ConfigError(f"{path}: missing {'section' if i == 0 else 'key'} '{where}'")
            value = value[part]
        if is_view(cls) and isinstance(value, dict):  # leave its section's other keys
            others = _fields(cls.WHOLE) - _fields(cls)
            value = {k: v for k, v in value.items() if k not in others}
        try:
            values.append(TypeAdapter(cls).validate_python({} if value is None else value))
        except ValidationError as e:
            raise ConfigError(_message(key, e.errors()[0])) from None
    return values


def load(key: str, cls, path: Path = PARAMS_FILE):
    """One key of the params file as `cls` (`load_params` of one)."""
    return load_params({key: cls}, path)[0]


def load_runtime(path: Path = PARAMS_FILE) -> RuntimeConfig:
    """The `runtime` section, which no stage declares as a dependency."""
    return load("runtime", RuntimeConfig, path)


def declared(reads: dict[str, type]) -> set[str]:
    """The params keys a stage's `reads` stand for in dvc.yaml: a view's fields one by one
    (they are not the whole of their section), else the key itself."""
    keys = set()
    for key, cls in reads.items():
        if is_view(cls):
            keys |= {f"{key}.{f.name}" for f in dataclasses.fields(cls)}
        else:
            keys.add(key)
    return keys
