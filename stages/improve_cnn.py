"""Stage improve_cnn: the residual CNN with a better recipe, trained once per seed of
`improve_cnn.seeds`; the first seed's model is the transfer's backbone, and every seed pairs
with the CNN study's residual run of its depth and seed."""

import argparse
import sys
from dataclasses import asdict

import torch

from reslab.batches.augment import augment_for
from reslab.batches.loader import load_prepared, manifest
from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import load_params, load_runtime
from reslab.core.sections import ImproveConfig
from reslab.models.cnn import CNN
from reslab.train import distributed
from reslab.train.study import train_variant, write_variant


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly."""
    return {"improve_cnn": ImproveConfig}


def main(argv: list[str]) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)  # --help; no arguments
    (cfg,) = load_params(params(argv))
    if distributed.launched(cfg.train):
        return
    data_path = outputs.prepared(cfg.dataset)
    data = load_prepared(data_path, cfg.train_subset)
    augment, augment_fn = augment_for(cfg.augment, manifest(data_path))
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        model = CNN(depth=cfg.depth, width=cfg.width, residual=True,
                    num_classes=data.num_classes, in_channels=data.image_shape[-1])
        run_config = asdict(cfg) | {"seed": seed, "augment": asdict(augment)}
        del run_config["seeds"]
        trained = train_variant("improve_cnn", str(seed), model, data, cfg.train, seed=seed,
                                runtime=load_runtime(), inputs=[manifest(data_path)],
                                run_config=run_config, gradflow_batches=cfg.gradflow_batches,
                                augment=augment_fn)
        if trained:  # rank 0
            write_variant(trained, model)


if __name__ == "__main__":
    sys.exit(run_stage(main))
