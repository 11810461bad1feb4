"""Stage train_mlp@<depth>-<arch>: one MLP of the depth x {plain, residual} study on MNIST."""

import argparse
import sys

import torch

from reslab.cli import run_stage
from reslab.config import MLPStudyConfig, as_dict, load_section
from reslab.data.loader import load_prepared
from reslab.models.mlp import MLP
from reslab.study import run_variant


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--depth", type=int, required=True)
    parser.add_argument("--arch", choices=["plain", "residual"], required=True)
    args = parser.parse_args(argv)
    cfg = load_section("train_mlp", MLPStudyConfig)
    data = load_prepared(f"data/prepared/{cfg.dataset}.npz", cfg.train_subset, cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = MLP(args.depth, cfg.width, args.arch == "residual", data.image_shape, data.num_classes)
    meta = {"arch": "mlp", "depth": args.depth, "width": cfg.width,
            "residual": args.arch == "residual", "in_shape": list(data.image_shape),
            "num_classes": data.num_classes}
    run_variant("train_mlp", f"{args.depth}-{args.arch}", model, data, cfg.train, meta=meta,
                run_config={**as_dict(cfg), "depth": args.depth, "arch": args.arch},
                gradflow_batches=cfg.gradflow_batches)


if __name__ == "__main__":
    sys.exit(run_stage(main))
