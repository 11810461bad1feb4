"""Stand-in ImageFolder archives for a dataset this machine lacks (CIFAR-100 offline).

Two kinds, both in the mirror's layout (`train/<class>/<i>.png`, `test/<class>/<i>.png`) and
marked as stand-ins in the archive comment (the report says so):

- generated: each class a noisy image with two bars whose positions encode the label (100
  distinct patterns) and, for RGB, a dominant colour channel. Trivially separable: it shows
  that every stage runs, not how transfer behaves. Tests use it.
- `--from` another archive: real images, a class-balanced sample of it resized to
  `--size` and converted to RGB, e.g. MNIST digits as a 10-class transfer target for the
  CIFAR-10 backbone, on which the ladder behaves as on real data.

    python -m reslab.datasets.standin mirror/cifar100.zip --classes 100 --train 100 --test 20
    python -m reslab.datasets.standin mirror/cifar100.zip --from mirror/mnist.zip --train 500
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from reslab.datasets.imagefolder import read_imagefolder_zip, write_imagefolder_zip

STANDIN_NOTE = "generated stand-in (reslab.datasets.standin), not the real dataset"


def pattern_images(n: int, label: int, size: int, channels: int, rng) -> np.ndarray:
    """`n` noisy images of class `label`: a horizontal bar at row (label mod 10), a vertical bar
    at column (label div 10) mod 10, and for RGB a dominant channel (label mod 3)."""
    x = rng.integers(0, 60, size=(n, size, size, channels), dtype=np.uint8)
    step = max(1, (size - 2) // 10)
    col = (label // 10) % 10 * step
    x[:, :, col:col + 2, :] = 180
    row = label % 10 * step
    x[:, row:row + 2, :, :] = 255
    if channels == 3:
        x[:, :, :, label % 3] = np.maximum(x[:, :, :, label % 3], 120)
    return x


def make_imagefolder_zip(path: Path, classes: list[str] | int = 3, n_train: int = 8,
                         n_test: int = 4, size: int = 8, mode: str = "L", seed: int = 0,
                         fmt: str = "PNG") -> Path:
    """Write a learnable ImageFolder zip like the shared mirror's; returns its path."""
    classes = [f"c{i:03d}" for i in range(classes)] if isinstance(classes, int) else classes
    rng = np.random.default_rng(seed)
    channels = 1 if mode == "L" else 3
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = np.concatenate([pattern_images(n, label, size, channels, rng)
                            for label in range(len(classes))])
        splits[split] = (x, np.repeat(np.arange(len(classes)), n))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_imagefolder_zip(path, splits, classes, STANDIN_NOTE, fmt)


def from_archive(path: Path, source: Path, n_train: int, n_test: int, size: int = 32,
                 seed: int = 0) -> Path:
    """`n_train` + `n_test` images per class of `source`, resized to `size` and made RGB."""
    raw = read_imagefolder_zip(source)
    rng = np.random.default_rng(seed)

    def sample(x, y, n):
        idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n]
                              for c in range(len(raw.classes))])
        images = [np.asarray(Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img)
                             .convert("RGB").resize((size, size), Image.BILINEAR))
                  for img in x[idx]]
        return np.stack(images), y[idx]

    splits = {"train": sample(raw.x_train, raw.y_train, n_train),
              "test": sample(raw.x_test, raw.y_test, n_test)}
    note = (f"stand-in from {source.name} ({n_train}+{n_test} per class, {size}x{size} RGB), "
            "not the real dataset")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_imagefolder_zip(path, splits, raw.classes, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--train", type=int, default=100, help="training images per class")
    parser.add_argument("--test", type=int, default=20, help="test images per class")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--mode", choices=["L", "RGB"], default="RGB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from", dest="source", type=Path,
                        help="an ImageFolder zip to sample real images from (--classes and "
                             "--mode then come from it)")
    args = parser.parse_args()
    if args.source:
        from_archive(args.out, args.source, args.train, args.test, args.size, args.seed)
        print(f"{args.out}: from {args.source}, {args.train}+{args.test} images per class")
        return
    make_imagefolder_zip(args.out, args.classes, args.train, args.test, args.size, args.mode,
                         args.seed)
    print(f"{args.out}: {args.classes} classes, {args.train}+{args.test} images per class")


if __name__ == "__main__":
    main()
