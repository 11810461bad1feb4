"""Turn a raw dataset into the one compact file every later stage reads, plus its manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reslab.core.errors import ConfigError
from reslab.core.files import atomic_path, sha256_file, write_json
from reslab.datasets.imagefolder import RawDataset


def split_indices(n_train: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, disjoint train/validation index arrays (sorted) over the published training set."""
    if not 0 < val_size < n_train:
        raise ConfigError(
            f"data.val_size: {val_size} is out of range (the training set has {n_train} images)"
        )
    perm = np.random.default_rng(seed).permutation(n_train)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def test_indices(n_test: int, test_subset: int, seed: int) -> np.ndarray:
    """The test images kept: all (`test_subset` 0 or not below `n_test`), else a seeded sample
    of `test_subset` of them (sorted), the same for every stage that reads the dataset."""
    if not test_subset or test_subset >= n_test:
        return np.arange(n_test)
    return np.sort(np.random.default_rng(seed).permutation(n_test)[:test_subset])


def flip_changes_label(classes: list[str]) -> bool:
    """Whether mirroring an image can change its class: digits (MNIST's `0`...`9`, torchvision's
    `0 - zero`..., a stand-in made of them), where a mirrored 2, 3, 4, 5 or 7 is no digit."""
    return [c.split()[0] for c in classes] == [str(i) for i in range(10)]


def channel_stats(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in [0, 1] units, accumulated in float64 chunks (no float copy)."""
    c = x.shape[-1]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    for start in range(0, len(x), 4096):
        chunk = x[start:start + 4096].reshape(-1, c).astype(np.float64) / 255.0
        total += chunk.sum(0)
        total_sq += (chunk**2).sum(0)
    n = x.size // c
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))
    return mean.round(6).tolist(), std.round(6).tolist()


def _counts(y: np.ndarray, classes: list[str]) -> dict:
    per_class = np.bincount(y, minlength=len(classes))
    return {"total": int(len(y)), "per_class": dict(zip(classes, map(int, per_class), strict=True))}


def prepare(name: str, raw: RawDataset, val_size: int, seed: int, out_dir: Path, *,
            test_subset: int = 0, source: str = "", source_file: str | None = None) -> dict:
    """Write `<out_dir>/<name>.npz` and `<out_dir>/<name>.json`; return the manifest.

    The npz keeps `seed`, so every `train_subset` later drawn from the split uses it too;
    `test_subset` > 0 keeps that many test images (`test_indices`; the manifest's counts say
    how many every test accuracy is measured on). Both files are written under temporary names
    and renamed only when complete.
    """
    train_idx, val_idx = split_indices(len(raw.y_train), val_size, seed)
    keep = test_indices(len(raw.y_test), test_subset, seed)
    x_test, y_test = raw.x_test[keep], raw.y_test[keep]
    mean, std = channel_stats(raw.x_train[train_idx])
    out_dir = Path(out_dir)
    npz_path = out_dir / f"{name}.npz"
    with atomic_path(npz_path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                x_train=raw.x_train, y_train=raw.y_train, x_test=x_test, y_test=y_test,
                train_idx=train_idx, val_idx=val_idx, classes=np.array(raw.classes),
                mean=np.array(mean, dtype=np.float32), std=np.array(std, dtype=np.float32),
                seed=np.array(seed),
            )
        digest = sha256_file(tmp)
    manifest = {
        "name": name,
        "source": source,
        "source_file": source_file,
        "source_note": raw.note or None,
        "image_shape": list(raw.x_train.shape[1:]),
        "num_classes": len(raw.classes),
        "classes": raw.classes,
        "counts": {
            "train": _counts(raw.y_train[train_idx], raw.classes),
            "val": _counts(raw.y_train[val_idx], raw.classes),
            "test": _counts(y_test, raw.classes),
        },
        "test_of": int(len(raw.y_test)),  # the published test split's size
        "flip_changes_label": flip_changes_label(raw.classes),
        "mean": mean,
        "std": std,
        "val_size": val_size,
        "seed": seed,
        "sha256": digest,
    }
    try:
        write_json(out_dir / f"{name}.json", manifest)
    except BaseException:
        npz_path.unlink(missing_ok=True)
        raise
    return manifest
