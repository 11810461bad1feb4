"""Stage improve_cnn: the residual CNN with a better recipe, the backbone for the transfer."""

import sys

import torch

from reslab.core.cli import run_stage
from reslab.core.config import ImproveConfig, as_dict, load_runtime, load_section
from reslab.data.augment import build_augment
from reslab.data.loader import load_prepared, manifest
from reslab.models.cnn import CNN
from reslab.train.study import run_variant


def main(argv: list[str]) -> None:
    cfg = load_section("improve_cnn", ImproveConfig)
    data_path = f"data/prepared/{cfg.dataset}.npz"
    data = load_prepared(data_path, cfg.train_subset)
    torch.manual_seed(cfg.seed)
    model = CNN(cfg.depth, cfg.width, True, data.num_classes, data.image_shape[-1])
    run_variant("improve_cnn", None, model, data, cfg.train, seed=cfg.seed,
                runtime=load_runtime(), inputs=[manifest(data_path)], run_config=as_dict(cfg),
                gradflow_batches=cfg.gradflow_batches, augment=build_augment(cfg.augment))


if __name__ == "__main__":
    sys.exit(run_stage(main))
