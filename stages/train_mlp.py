"""Stage train_mlp@<depth>-<arch>: one MLP of the depth x {plain, residual} study on MNIST."""

import sys

import torch

from reslab.cli import depth_variant, run_stage
from reslab.config import MLPStudyConfig, as_dict, load_section
from reslab.data.loader import load_prepared
from reslab.models.mlp import MLP
from reslab.study import run_variant


def main(argv: list[str]) -> None:
    depth, arch = depth_variant(argv, __doc__)
    cfg = load_section("train_mlp", MLPStudyConfig)
    data = load_prepared(f"data/prepared/{cfg.dataset}.npz", cfg.train_subset, cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = MLP(depth, cfg.width, arch == "residual", data.image_shape, data.num_classes)
    run_variant("train_mlp", f"{depth}-{arch}", model, data, cfg.train,
                run_config={**as_dict(cfg), "depth": depth, "arch": arch},
                gradflow_batches=cfg.gradflow_batches)


if __name__ == "__main__":
    sys.exit(run_stage(main))
