"""Tensor-resident data: a prepared split lives as uint8 on the device; batches are drawn,
converted, augmented and normalised there, with no per-sample Python."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reslab.data.augment import Augment
from reslab.errors import DataError

KEYS = ("x_train", "y_train", "x_test", "y_test", "train_idx", "val_idx", "classes", "mean", "std")


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
    mean: torch.Tensor  # (C,)
    std: torch.Tensor  # (C,)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])


def load_prepared(path: str | Path, train_subset: int = 0, seed: int = 0) -> Prepared:
    """Read a prepared `.npz`; `train_subset` > 0 keeps a seeded random subset of the train split."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: prepared dataset not found (run `dvc repro prepare_data@{path.stem}`)")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise DataError(f"{path}: not a prepared dataset (missing {', '.join(missing)})")
            arr = {k: f[k] for k in KEYS}
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: unreadable prepared dataset ({e})") from None
    train_idx = arr["train_idx"]
    if train_subset:
        if train_subset > len(train_idx):
            raise DataError(f"{path}: train_subset {train_subset} exceeds the {len(train_idx)} "
                            "training images")
        keep = np.random.default_rng(seed).permutation(len(train_idx))[:train_subset]
        train_idx = np.sort(train_idx[keep])

    def split(x, y, idx=None) -> Split:
        x, y = (x, y) if idx is None else (x[idx], y[idx])
        return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)))

    return Prepared(
        train=split(arr["x_train"], arr["y_train"], train_idx),
        val=split(arr["x_train"], arr["y_train"], arr["val_idx"]),
        test=split(arr["x_test"], arr["y_test"]),
        classes=[str(c) for c in arr["classes"]],
        mean=torch.from_numpy(arr["mean"]).float(),
        std=torch.from_numpy(arr["std"]).float(),
    )


class BatchLoader:
    """Minibatches of one split, already on the device, as normalised float NCHW tensors.

    Shuffling and augmentation draw from `generator` only, so its state is the loader's whole
    random state (saved in resume checkpoints). Augmentation is for training loaders only.
    """

    def __init__(self, split: Split, batch_size: int, mean: torch.Tensor, std: torch.Tensor, *,
                 device: torch.device | str = "cpu", shuffle: bool = False,
                 generator: torch.Generator | None = None, augment: Augment | None = None,
                 channels_last: bool = False):
        if (shuffle or augment) and generator is None:
            raise ValueError("a shuffling or augmenting loader needs a generator")
        self.split = split.to(device)
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.mean = mean.to(self.device)[None, :, None, None]
        self.std = std.to(self.device)[None, :, None, None]
        self.shuffle, self.generator, self.augment = shuffle, generator, augment
        self.channels_last = channels_last

    def __len__(self) -> int:
        return -(-len(self.split) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.split)
        order = torch.randperm(n, generator=self.generator).to(self.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                xb = self.split.x[start:start + self.batch_size]
                yb = self.split.y[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                xb, yb = self.split.x[idx], self.split.y[idx]
            yield self.to_input(xb), yb

    def to_input(self, xb: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> float NCHW in [0, 1] -> (train-only) augmentation -> normalised.

        A float split holds precomputed features (the fast linear probe): used as they are."""
        if xb.is_floating_point():
            return xb
        x = xb.permute(0, 3, 1, 2).float().div_(255)
        if self.augment is not None:
            x = self.augment(x, self.generator)
        x = (x - self.mean) / self.std
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()
