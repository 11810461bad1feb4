"""Stage improve_cnn: the residual CNN with a better recipe, the backbone for the transfer."""

import sys
from dataclasses import asdict

import torch

from reslab.batches.augment import build_augment
from reslab.batches.loader import load_prepared, manifest
from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import ImproveConfig, load_runtime, load_section
from reslab.models.cnn import CNN
from reslab.train.study import run_variant


def main(argv: list[str]) -> None:
    cfg = load_section("improve_cnn", ImproveConfig)
    data_path = outputs.prepared(cfg.dataset)
    data = load_prepared(data_path, cfg.train_subset)
    torch.manual_seed(cfg.seed)
    model = CNN(depth=cfg.depth, width=cfg.width, residual=True, num_classes=data.num_classes,
                in_channels=data.image_shape[-1])
    run_variant("improve_cnn", None, model, data, cfg.train, seed=cfg.seed,
                runtime=load_runtime(), inputs=[manifest(data_path)], run_config=asdict(cfg),
                gradflow_batches=cfg.gradflow_batches, augment=build_augment(cfg.augment))


if __name__ == "__main__":
    sys.exit(run_stage(main))
