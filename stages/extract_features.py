"""Stage extract_features: pooled features of the improved backbone for the transfer dataset.

Writes data/features/<dataset>.npz (train/val/test features and labels), computed once in eval
mode, fp32, without augmentation, on the same training subset the fine-tuning rungs use; the
SVM baseline and the fast linear probe read it.
"""

import argparse
import sys

import numpy as np

from reslab.batches.loader import BatchLoader, load_prepared
from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import load_params, load_runtime
from reslab.core.files import atomic_path
from reslab.core.ladder import backbone
from reslab.core.sections import FeaturesConfig
from reslab.train.distributed import device_for
from reslab.transfer import extract_features, load_cnn


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly."""
    return {"transfer": FeaturesConfig}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone-seed", type=int, required=True,
                        help="the improve_cnn seed whose model is the backbone")
    backbone_path = backbone(parser.parse_args(argv).backbone_seed)
    (cfg,) = load_params(params(argv))
    data = load_prepared(outputs.prepared(cfg.dataset), cfg.train_subset)
    device = device_for(load_runtime().device)
    model = load_cnn(backbone_path, in_channels=data.image_shape[-1]).to(device)
    arrays = {}
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        loader = BatchLoader(split, cfg.feature_batch_size, data.mean, data.std, device=device)
        arrays[f"{name}_x"] = extract_features(model, loader)
        arrays[f"{name}_y"] = split.y.numpy()
    arrays["classes"] = np.array(data.classes)
    out = outputs.features(cfg.dataset)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    print(f"features {arrays['train_x'].shape[1]}-d: "
          + ", ".join(f"{n} {len(arrays[f'{n}_y'])}" for n in ("train", "val", "test"))
          + f" -> {out}")


if __name__ == "__main__":
    sys.exit(run_stage(main))
