"""Typed, validated views of `params.yaml` sections: one frozen dataclass per section.

A training stage reads its own section (plus `runtime`; the report reads every section it names
in dvc.yaml). `reslab.core.params` rejects unknown keys, missing keys, wrong types and
out-of-range values with a one-line `ConfigError` naming the key and the value, so a typo in
`dvc exp run -S ...` fails before any work starts. No field has a default: params.yaml is the one
place a value is said.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reslab.core.errors import ConfigError
from reslab.core.params import PARAMS_FILE, build, param, read_params

Optimizer = Literal["adam", "adamw", "sgd", "sgd_momentum"]
Scheduler = Literal["none", "plateau", "cosine"]
Arch = Literal["plain", "residual"]
Auto = bool | Literal["auto"]


@dataclass(frozen=True)
class RuntimeConfig:
    """`runtime`: how a run is carried out, never what it computes. No stage declares it as a
    dependency, so switching wandb or progress bars off re-trains nothing."""

    device: str  # auto = CUDA when present (cuda:LOCAL_RANK under torchrun), else CPU
    wandb: bool  # mode: WANDB_MODE, wandb's settings, else offline (core.track)
    wandb_project: str
    progress: bool  # tqdm bars (shown only on a terminal)


@dataclass(frozen=True)
class LoopConfig:
    """How the engine trains, apart from the optimizer (which a transfer ladder sets)."""

    epochs: int = param(ge=1)
    batch_size: int = param(ge=1)  # global: split across the processes of a DDP run
    eval_batch_size: int = param(ge=1)
    scheduler: Scheduler
    plateau_factor: float = param(gt=0, lt=1)
    plateau_patience: int = param(ge=0)
    min_lr: float = param(ge=0)
    early_stop_patience: int = param(ge=0)  # 0 = train all epochs, still restore the best
    early_stop_min_delta: float = param(ge=0)
    warmup_epochs: float = param(ge=0)  # linear warm-up before the cosine schedule
    label_smoothing: float = param(ge=0, lt=1)
    # auto: what is fast and safe on the device found (reslab.train.precision); true/false force
    bf16: Auto  # autocast for training steps; evaluation always runs in fp32
    channels_last: Auto
    nproc_per_node: int = param(ge=1)  # > 1: data-parallel workers (torch.distributed.run)
    sync_batchnorm: bool  # DDP on CUDA: BatchNorm statistics over the global batch


@dataclass(frozen=True)
class TrainConfig(LoopConfig):
    """One recipe for the training engine: the loop plus its optimizer."""

    optimizer: Optimizer
    lr: float = param(gt=0)
    weight_decay: float = param(ge=0)
    momentum: float = param(ge=0, lt=1)  # sgd_momentum only


@dataclass(frozen=True)
class AugmentConfig:
    """Train-only augmentation; all zero/false means none (the lab's CNN study)."""

    crop_padding: int = param(ge=0)
    flip: bool
    brightness: float = param(ge=0)
    contrast: float = param(ge=0)
    saturation: float = param(ge=0)
    hue: float = param(ge=0, le=0.5)

    def for_data(self, manifest: dict) -> AugmentConfig:
        """Without what would change a label of the data this manifest describes: no flip where
        `flip_changes_label` (digits: a mirrored 2, 3, 4, 5 or 7 is another shape or none)."""
        if self.flip and manifest.get("flip_changes_label"):
            return dataclasses.replace(self, flip=False)
        return self


@dataclass(frozen=True)
class DataConfig:
    """`data`: which datasets to prepare and how to carve the validation split.

    `seed` fixes the split and every `train_subset` drawn from it, so runs of other seeds (and
    every rung of the transfer ladder) see the same images."""

    datasets: list[str] = param()
    val_size: int = param(ge=1)
    test_subset: int = param(ge=0)  # 0 = the whole test split; else a seeded sample this size
    seed: int = param(ge=0)


@dataclass(frozen=True)
class MLPStudyConfig:
    """`train_mlp`: the depth x {plain, residual} x seed MLP study (docs/lab.md)."""

    dataset: str
    depths: list[int] = param(ge=1)  # hidden layers
    archs: list[Arch] = param()
    seeds: list[int] = param(ge=0)  # each seed: its own initialisation and shuffling
    width: int = param(ge=1)
    train_subset: int = param(ge=0)  # 0 = the whole training split
    gradflow_batches: int = param(ge=1)
    train: TrainConfig


@dataclass(frozen=True)
class CNNRunConfig:
    """What every CNN training section shares: data, scale knobs, augmentation, recipe."""

    dataset: str
    width: int = param(ge=1)  # channels after the stem; doubled at each downsampling
    train_subset: int = param(ge=0)
    gradflow_batches: int = param(ge=1)
    augment: AugmentConfig
    train: TrainConfig


@dataclass(frozen=True)
class CNNStudyConfig(CNNRunConfig):
    """`train_cnn`: the depth x {plain, residual} x seed CNN study (docs/lab.md)."""

    depths: list[int] = param(ge=1)  # the CNN checks its own minimum
    archs: list[Arch] = param()
    seeds: list[int] = param(ge=0)


@dataclass(frozen=True)
class ImproveConfig(CNNRunConfig):
    """`improve_cnn`: the residual backbone with a better recipe, a variant per seed (paired
    with the CNN study's residual variants of its depth); the transfer starts from the first
    seed's."""

    depth: int = param(ge=1)  # the CNN checks its own minimum
    seeds: list[int] = param(ge=0)


@dataclass(frozen=True)
class OptimizerConfig:
    """One optimizer's settings on a rung of the transfer ladder."""

    lr: float = param(gt=0)
    weight_decay: float = param(ge=0)
    momentum: float = param(ge=0, lt=1)  # sgd_momentum only


@dataclass(frozen=True)
class PerOptimizer:
    """The settings of each optimizer of the transfer ladders."""

    adam: OptimizerConfig
    adamw: OptimizerConfig
    sgd: OptimizerConfig
    sgd_momentum: OptimizerConfig


@dataclass(frozen=True)
class ProbeConfig:
    """The linear probe's ladders: the loop is shared, each optimizer has its own lr and decay."""

    optim: PerOptimizer
    train: LoopConfig

    def recipe(self, optimizer: str) -> TrainConfig:
        """The loop with `optimizer`'s settings."""
        return TrainConfig(**dataclasses.asdict(self.train), optimizer=optimizer,
                           **dataclasses.asdict(getattr(self.optim, optimizer)))


@dataclass(frozen=True)
class RungConfig(ProbeConfig):
    """A fine-tuning rung of the ladders: the probe's settings plus train-only augmentation."""

    augment: AugmentConfig


@dataclass(frozen=True)
class SingleRungConfig:
    """A rung trained with one optimizer (`train.optimizer`), which also names the ladder it
    starts from: FT2+aug from that ladder's FT1, the full fine-tune from its linear probe."""

    augment: AugmentConfig
    train: TrainConfig


@dataclass(frozen=True)
class TransferConfig:
    """`transfer`: the CIFAR-10 backbone moved to `dataset` (docs/lab.md)."""

    dataset: str
    optimizers: list[Optimizer] = param()
    # each seed its own variant of every rung: new heads, shuffling and augmentation
    seeds: list[int] = param(ge=0)
    train_subset: int = param(ge=0)  # scale knob: 0 = the whole training split
    feature_batch_size: int = param(ge=1)
    svm_C: list[float] = param(gt=0)  # candidates; the best on val is scored on test
    svm_max_iter: int = param(ge=1)
    probe: ProbeConfig
    finetune: RungConfig  # FT0, FT1 and FT2 (`reslab.core.ladder`)
    ft2_aug: SingleRungConfig  # a field for each rung of one optimizer, under its name
    full: SingleRungConfig


def load_section(section: str, cls, path: Path = PARAMS_FILE):
    """Load `section` of the params file into `cls`, validating every key."""
    raw = read_params(path)
    if section not in raw:
        raise ConfigError(f"{path}: missing section '{section}'")
    return build(cls, raw[section] or {}, section)


def load_runtime(path: Path = PARAMS_FILE) -> RuntimeConfig:
    """The `runtime` section, which no stage declares as a dependency."""
    return load_section("runtime", RuntimeConfig, path)


def variant_config(cfg, **variant) -> dict:
    """One variant of a depth study as a plain dict: the section without its study dimensions,
    never read (so adding a seed or a depth does not make every other variant another run, and
    its stage declares none of them), plus the variant's own depth, arch and seed."""
    def plain(value):
        return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value

    return {f.name: plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)
            if f.name not in ("depths", "archs", "seeds")} | variant
