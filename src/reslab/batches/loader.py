"""Tensor-resident data: a prepared split lives as uint8 on the device; batches are drawn,
converted, augmented and normalised there, with no per-sample Python."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reslab.batches.augment import Augment
from reslab.core.errors import DataError
from reslab.core.timing import phase

KEYS = ("x_train", "y_train", "x_test", "y_test", "train_idx", "val_idx", "classes", "mean", "std",
        "seed")


@dataclass
class Split:
    x: torch.Tensor  # uint8 images (N, H, W, C), or float features (N, D)
    y: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class Prepared:
    train: Split
    val: Split
    test: Split
    classes: list[str]
    mean: torch.Tensor  # (C,) for images, (D,) for features
    std: torch.Tensor
    seed: int = 0  # the data seed: the split, its subsets and the gradient-flow probe

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])


def subset_indices(n: int, size: int, seed: int) -> np.ndarray:
    """The first `size` of a seeded permutation of `n`: smaller subsets nest in larger ones."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def manifest(path: str | Path) -> Path:
    """The manifest `prepare_data` writes beside a prepared `.npz`: its `sha256` names the
    npz's content, so a run fingerprints this small file instead of hashing the large one."""
    return Path(path).with_suffix(".json")


@phase("data")
def load_prepared(path: str | Path, train_subset: int = 0) -> Prepared:
    """Read a prepared `.npz`; `train_subset` > 0 keeps a random subset of the train split,
    drawn with the data seed, so every stage and every run seed gets the same images."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: prepared dataset not found "
                        f"(run `dvc repro prepare_data@{path.stem}`)")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise DataError(f"{path}: not a prepared dataset (missing {', '.join(missing)}; "
                                f"re-run `dvc repro prepare_data@{path.stem}`)")
            arr = {k: f[k] for k in KEYS}
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: unreadable prepared dataset ({e})") from None
    train_idx, seed = arr["train_idx"], int(arr["seed"])
    if train_subset:
        if train_subset > len(train_idx):
            raise DataError(f"{path}: train_subset {train_subset} exceeds the {len(train_idx)} "
                            "training images")
        train_idx = train_idx[subset_indices(len(train_idx), train_subset, seed)]

    def split(x, y, idx=None) -> Split:
        x, y = (x, y) if idx is None else (x[idx], y[idx])
        return Split(torch.from_numpy(np.ascontiguousarray(x)),
                     torch.from_numpy(y.astype(np.int64)))

    return Prepared(
        train=split(arr["x_train"], arr["y_train"], train_idx),
        val=split(arr["x_train"], arr["y_train"], arr["val_idx"]),
        test=split(arr["x_test"], arr["y_test"]),
        classes=[str(c) for c in arr["classes"]],
        mean=torch.from_numpy(arr["mean"]).float(),
        std=torch.from_numpy(arr["std"]).float(),
        seed=seed,
    )


def balanced_indices(y: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """`n` indices of `y`, as many of each class as possible (counts differ by at most one),
    drawn and then shuffled with `seed`, so every batch cut from them mixes the classes."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(y)
    per_class = [torch.nonzero(y == c).flatten() for c in classes]
    per_class = [idx[torch.randperm(len(idx), generator=g)] for idx in per_class]
    # round-robin over classes: position k of every class before position k + 1 of any
    rounds = min(max(map(len, per_class)), -(-n // len(per_class)))
    picked = [idx[k] for k in range(rounds) for idx in per_class if k < len(idx)]
    picked = torch.stack(picked[:n])
    return picked[torch.randperm(len(picked), generator=g)]


class BatchLoader:
    """Minibatches of one split, already on the device, as normalised float tensors.

    `seed` drives shuffling (the same permutation on every rank) and, through a generator of
    its own per rank, augmentation; `state_dict` is the loader's whole random state (saved in
    resume checkpoints). Under DDP (`world` > 1) each rank takes its share of every global
    batch of a shuffled split, or a contiguous shard of an unshuffled one, so that evaluation
    sees every sample exactly once. Augmentation is for training loaders only.
    """

    def __init__(self, split: Split, batch_size: int, mean: torch.Tensor, std: torch.Tensor, *,
                 device: torch.device | str = "cpu", shuffle: bool = False, seed: int | None = None,
                 augment: Augment | None = None, channels_last: bool = False, rank: int = 0,
                 world: int = 1):
        if (shuffle or augment) and seed is None:
            raise ValueError("a shuffling or augmenting loader needs a seed")
        self.device = torch.device(device)
        self.rank, self.world = rank, world
        self.shuffle, self.augment, self.channels_last = shuffle, augment, channels_last
        if not shuffle and world > 1:  # this rank's contiguous shard
            keep = torch.arange(len(split)).tensor_split(world)[rank]
            split = Split(split.x[keep], split.y[keep])
        self.split = split.to(self.device)
        self.batch_size = batch_size if shuffle else -(-batch_size // world)
        self.mean = mean.to(self.device)
        self.std = std.to(self.device)
        self.order_gen = self._generator(seed) if shuffle else None
        self.aug_gen = self._generator(seed * 1_000_003 + rank + 1) if augment else None

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        n, b = len(self.split), self.batch_size
        if not self.shuffle:
            return -(-n // b)
        return n // b + (n % b >= self.world)  # a last batch too small to share is dropped

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.split)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                end = start + self.batch_size
                yield self.to_input(self.split.x[start:end]), self.split.y[start:end]
            return
        order = torch.randperm(n, generator=self.order_gen, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size].tensor_split(self.world)[self.rank]
            yield self.to_input(self.split.x[idx]), self.split.y[idx]

    def to_input(self, xb: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> float NCHW in [0, 1] -> (train-only) augmentation -> normalised.

        A float split holds precomputed features (the fast linear probe): only standardised."""
        if xb.is_floating_point():
            return (xb - self.mean) / self.std
        x = xb.permute(0, 3, 1, 2).float().div_(255)
        if self.augment is not None:
            x = self.augment(x, self.aug_gen)
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()

    def state_dict(self) -> dict:
        gens = {"order": self.order_gen, "augment": self.aug_gen}
        return {k: g.get_state() for k, g in gens.items() if g is not None}

    def load_state_dict(self, state: dict) -> None:
        for key, gen in (("order", self.order_gen), ("augment", self.aug_gen)):
            if gen is not None:
                gen.set_state(state[key])
