"""Stage download_data: bring each dataset's source files into data/source/<name>/.

For every dataset of `data.datasets`, the first found of: a mirror zip
($RESLAB_DATA_MIRROR/<name>.zip), the official files under a torchvision root
($RESLAB_TORCHVISION_ROOT, default data/raw), a torchvision download. The stage runs on every
`dvc repro` and costs little when nothing changed: files are copied only when their size or time
differ, downloaded files are kept, not fetched again (prepare_data verifies what it decodes).
DVC records each folder's content, so another source re-runs that dataset's preparation and
everything after it; the same one, nothing. A dataset that cannot be had leaves
UNAVAILABLE.txt with the reason, which its prepare_data stage reports; the other datasets go on.
"""

import shutil
import sys
from pathlib import Path

from reslab.core.cli import run_stage
from reslab.core.config import load_params
from reslab.core.sections import DataSources
from reslab.datasets.sources import sync_dataset

OUT_DIR = Path("data/source")


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly."""
    return {"data": DataSources}


def main(argv: list[str]) -> None:
    (cfg,) = load_params(params(argv))
    for name in cfg.datasets:
        print(f"{name}: {sync_dataset(name, OUT_DIR / name)} -> {OUT_DIR / name}", flush=True)
    for stale in OUT_DIR.iterdir():
        if stale.name not in cfg.datasets:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


if __name__ == "__main__":
    sys.exit(run_stage(main))
