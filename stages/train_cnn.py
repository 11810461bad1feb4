"""Stage train_cnn@<depth>-<arch>: one CNN of the depth x {plain, residual} study on CIFAR-10."""

import sys

import torch

from reslab.cli import depth_variant, run_stage
from reslab.config import CNNStudyConfig, as_dict, load_section
from reslab.data.augment import build_augment
from reslab.data.loader import load_prepared
from reslab.models.cnn import CNN
from reslab.study import run_variant


def main(argv: list[str]) -> None:
    depth, arch = depth_variant(argv, __doc__)
    cfg = load_section("train_cnn", CNNStudyConfig)
    data = load_prepared(f"data/prepared/{cfg.dataset}.npz", cfg.train_subset, cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = CNN(depth, cfg.width, arch == "residual", data.num_classes,
                data.image_shape[-1])
    run_variant("train_cnn", f"{depth}-{arch}", model, data, cfg.train,
                run_config={**as_dict(cfg), "depth": depth, "arch": arch},
                gradflow_batches=cfg.gradflow_batches, augment=build_augment(cfg.augment))


if __name__ == "__main__":
    sys.exit(run_stage(main))
