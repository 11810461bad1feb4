"""Typed, validated views of `params.yaml` sections: one frozen dataclass per section.

Each stage reads exactly one section (plus `runtime`); `reslab.core.params` rejects unknown
keys, wrong types and out-of-range values with a one-line `ConfigError` naming the key and the
value, so a typo in `dvc exp run -S ...` fails before any work starts. The defaults here matter
only for keys params.yaml omits; params.yaml states every value it uses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reslab.core.errors import ConfigError
from reslab.core.params import PARAMS_FILE, build, param, read_params

CNN_MIN_DEPTH = 9  # (depth - 1) // 2 blocks; three downsamplings need blocks // 4 >= 1
Optimizer = Literal["adam", "adamw", "sgd", "sgd_momentum"]
Scheduler = Literal["none", "plateau", "cosine"]
Arch = Literal["plain", "residual"]
Auto = bool | Literal["auto"]


@dataclass(frozen=True)
class RuntimeConfig:
    """`runtime`: how a run is carried out, never what it computes. No stage declares it as a
    dependency, so switching wandb or progress bars off re-trains nothing."""

    device: str = "auto"  # auto = CUDA when present (cuda:LOCAL_RANK under torchrun), else CPU
    wandb: bool = True  # mode: WANDB_MODE, wandb's settings, else offline (core.track)
    wandb_project: str = "reslab"
    progress: bool = True  # tqdm bars (shown only on a terminal)


@dataclass(frozen=True)
class LoopConfig:
    """How the engine trains, apart from the optimizer (which a transfer ladder sets)."""

    epochs: int = param(20, ge=1)
    batch_size: int = param(64, ge=1)  # global: split across the processes of a DDP run
    eval_batch_size: int = param(1024, ge=1)
    scheduler: Scheduler = "plateau"
    plateau_factor: float = param(0.5, gt=0, lt=1)
    plateau_patience: int = param(2, ge=0)
    min_lr: float = param(1e-6, ge=0)
    early_stop_patience: int = param(0, ge=0)  # 0 = train all epochs, still restore the best
    early_stop_min_delta: float = param(0.0, ge=0)
    warmup_epochs: float = param(0.0, ge=0)  # linear warm-up before the cosine schedule
    label_smoothing: float = param(0.0, ge=0, lt=1)
    # auto: what is fast and safe on the device found (reslab.train.precision); true/false force
    bf16: Auto = False  # autocast for training steps; evaluation always runs in fp32
    channels_last: Auto = False
    nproc_per_node: int = param(1, ge=1)  # > 1: data-parallel workers (torch.distributed.run)
    sync_batchnorm: bool = False  # DDP on CUDA: BatchNorm statistics over the global batch


@dataclass(frozen=True)
class TrainConfig(LoopConfig):
    """One recipe for the training engine: the loop plus its optimizer."""

    optimizer: Optimizer = "adam"
    lr: float = param(1e-3, gt=0)
    weight_decay: float = param(0.0, ge=0)
    momentum: float = param(0.9, ge=0, lt=1)  # sgd_momentum only


@dataclass(frozen=True)
class AugmentConfig:
    """Train-only augmentation; all zero/false means none (the lab's CNN study)."""

    crop_padding: int = param(0, ge=0)
    flip: bool = False
    brightness: float = param(0.0, ge=0)
    contrast: float = param(0.0, ge=0)
    saturation: float = param(0.0, ge=0)
    hue: float = param(0.0, ge=0, le=0.5)


@dataclass(frozen=True)
class DataConfig:
    """`data`: which datasets to prepare and how to carve the validation split.

    `seed` fixes the split and every `train_subset` drawn from it, so runs of other seeds (and
    every rung of the transfer ladder) see the same images."""

    datasets: list[str] = param(["mnist", "cifar10", "cifar100"])
    val_size: int = param(5000, ge=1)
    seed: int = param(0, ge=0)


@dataclass(frozen=True)
class MLPStudyConfig:
    """`train_mlp`: the depth x {plain, residual} x seed MLP study (docs/lab.md)."""

    dataset: str = "mnist"
    depths: list[int] = param([10, 20, 30], ge=1)  # hidden layers
    archs: list[Arch] = param(["plain", "residual"])
    seeds: list[int] = param([0], ge=0)  # each seed: its own initialisation and shuffling
    width: int = param(32, ge=1)
    train_subset: int = param(0, ge=0)  # 0 = the whole training split
    gradflow_batches: int = param(4, ge=1)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True)
class CNNRunConfig:
    """What every CNN training section shares: data, scale knobs, augmentation, recipe."""

    dataset: str = "cifar10"
    width: int = param(32, ge=1)  # channels after the stem; doubled at each downsampling
    train_subset: int = param(0, ge=0)
    gradflow_batches: int = param(4, ge=1)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True)
class CNNStudyConfig(CNNRunConfig):
    """`train_cnn`: the depth x {plain, residual} x seed CNN study (docs/lab.md)."""

    depths: list[int] = param([20, 40, 50], ge=CNN_MIN_DEPTH)
    archs: list[Arch] = param(["plain", "residual"])
    seeds: list[int] = param([0], ge=0)


@dataclass(frozen=True)
class ImproveConfig(CNNRunConfig):
    """`improve_cnn`: the residual backbone with a better recipe; the transfer stages start here."""

    depth: int = param(20, ge=CNN_MIN_DEPTH)
    seed: int = param(0, ge=0)


@dataclass(frozen=True)
class OptimizerConfig:
    """One optimizer's learning rate and weight decay on a rung of the transfer ladder."""

    lr: float = param(1e-3, gt=0)
    weight_decay: float = param(0.0, ge=0)


@dataclass(frozen=True)
class PerOptimizer:
    """`lr` and `weight_decay` for each optimizer of the transfer ladders."""

    adam: OptimizerConfig = field(default_factory=OptimizerConfig)
    adamw: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(weight_decay=1e-2))
    sgd: OptimizerConfig = field(default_factory=OptimizerConfig)
    sgd_momentum: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass(frozen=True)
class ProbeConfig:
    """The linear probe's ladders: the loop is shared, each optimizer has its own lr and decay."""

    optim: PerOptimizer = field(default_factory=PerOptimizer)
    train: LoopConfig = field(default_factory=LoopConfig)

    def recipe(self, optimizer: str) -> TrainConfig:
        settings = getattr(self.optim, optimizer)
        return TrainConfig(**dataclasses.asdict(self.train), optimizer=optimizer,
                           lr=settings.lr, weight_decay=settings.weight_decay)


@dataclass(frozen=True)
class RungConfig(ProbeConfig):
    """A fine-tuning rung of the ladders: the probe's settings plus train-only augmentation."""

    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class SingleRungConfig:
    """A rung trained with one optimizer (`train.optimizer`), which also names the ladder it
    starts from: FT2+aug from that ladder's FT1, the full fine-tune from its linear probe."""

    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SINGLE_RUNGS = {"finetune_ft2_aug": "ft2_aug", "finetune_full": "full"}  # stage -> field below:
# the rungs trained with one optimizer, named in their own `train` section


@dataclass(frozen=True)
class TransferConfig:
    """`transfer`: the CIFAR-10 backbone moved to `dataset` (docs/lab.md)."""

    dataset: str = "cifar100"
    optimizers: list[Optimizer] = param(["adam", "adamw", "sgd", "sgd_momentum"])
    # each seed its own variant of every rung: new heads, shuffling and augmentation
    seeds: list[int] = param([0], ge=0)
    train_subset: int = param(0, ge=0)  # scale knob: 0 = the whole training split
    feature_batch_size: int = param(1000, ge=1)
    svm_C: list[float] = param([1.0], gt=0)  # candidates; the best on val is scored on test
    svm_max_iter: int = param(5000, ge=1)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    finetune: RungConfig = field(default_factory=RungConfig)
    ft2_aug: SingleRungConfig = field(default_factory=SingleRungConfig)
    full: SingleRungConfig = field(default_factory=SingleRungConfig)


def load_section(section: str, cls, path: Path = PARAMS_FILE):
    """Load `section` of the params file into `cls`, validating every key."""
    raw = read_params(path)
    if section not in raw:
        raise ConfigError(f"{path}: missing section '{section}'")
    return build(cls, raw[section] or {}, section)


def load_runtime(path: Path = PARAMS_FILE) -> RuntimeConfig:
    """The `runtime` section, or its defaults when params.yaml has none."""
    return build(RuntimeConfig, read_params(path).get("runtime") or {}, "runtime")


def as_dict(cfg) -> dict:
    """Plain-dict view of a config, for run configs and fingerprints."""
    return dataclasses.asdict(cfg)


def variant_config(cfg, **variant) -> dict:
    """One variant of a depth study as a plain dict: the section without its study dimensions
    (so adding a seed or a depth does not make every other variant another run), plus the
    variant's own depth, arch and seed."""
    dims = {"depths", "archs", "seeds"}
    return {k: v for k, v in as_dict(cfg).items() if k not in dims} | variant
