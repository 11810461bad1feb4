"""Write a mirror folder of ImageFolder zips from data you already have, to feed an offline machine.

    python -m reslab.datasets.mirror OUT                  # mnist, cifar10, cifar100
    python -m reslab.datasets.mirror OUT --root ~/data --datasets cifar100

Each dataset is read through torchvision from `--root` (default: $RESLAB_TORCHVISION_ROOT or
data/raw) and downloaded there when missing (this needs network). The zips hold lossless PNGs in
the layout the data stage reads (`train/<class>/<file>`, `test/<class>/<file>`). Copy OUT to the
air-gapped machine and point the pipeline at it: `export RESLAB_DATA_MIRROR=/abs/path/to/OUT`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reslab.core.errors import ReslabError
from reslab.datasets.imagefolder import write_imagefolder_zip
from reslab.datasets.sources import DEFAULT_ROOT, ROOT_ENV, fetch_torchvision


def write_mirror(name: str, root: Path, out: Path) -> Path:
    """`out/<name>.zip` from torchvision's copy of `name` under `root`."""
    raw = fetch_torchvision(name, root)
    out.mkdir(parents=True, exist_ok=True)
    splits = {"train": (raw.x_train, raw.y_train), "test": (raw.x_test, raw.y_test)}
    return write_imagefolder_zip(out / f"{name}.zip", splits, raw.classes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the mirror folder to write")
    parser.add_argument("--root", type=Path,
                        default=Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT)),
                        help="torchvision root (default: $RESLAB_TORCHVISION_ROOT or data/raw)")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10", "cifar100"])
    args = parser.parse_args(argv)
    try:
        for name in args.datasets:
            path = write_mirror(name, args.root, args.out)
            print(f"{name}: {path} ({path.stat().st_size / 2**20:.1f} MiB)", flush=True)
    except ReslabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
