"""Stage finetune_<rung>: one rung of the fine-tuning ladder on the transfer dataset, trained
once per seed of `transfer.seeds`.

Each seed's run starts from the rung before (`reslab.core.ladder`) of the same optimizer and
seed, and trains the head and the rung's last residual blocks: finetune_ft0@<optimizer> from the
linear probe, ft1 from ft0, ft2 from ft1. finetune_ft2_aug is ft2 with strong train-only
augmentation, from FT1 of `transfer.ft2_aug.train.optimizer`; finetune_full trains every layer
with the improved recipe, from the linear probe of `transfer.full.train.optimizer`. Frozen
BatchNorm layers stay in eval mode. Every rung validates its starting weights first: when no
epoch beats them, they are what the rung keeps (`selected_epoch` 0), so a rung never ends below
where it started.
"""

import argparse
import sys
from dataclasses import asdict
from typing import get_args

from reslab.batches.augment import augment_for
from reslab.batches.loader import load_prepared, manifest
from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import Optimizer, OptimizerConfig, load_params, load_runtime, recipe
from reslab.core.errors import ConfigError
from reslab.core.ladder import FINETUNE
from reslab.core.sections import LadderFinetune, RungData, SingleRungConfig
from reslab.train import distributed
from reslab.train.study import train_variant, write_variant
from reslab.transfer import freeze, load_cnn


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rung", choices=list(FINETUNE))
    parser.add_argument("--optimizer", choices=get_args(Optimizer),
                        help="the ladder (ft0, ft1, ft2)")
    args = parser.parse_args(argv)
    if FINETUNE[args.rung].per_optimizer and not args.optimizer:
        raise ConfigError(f"{FINETUNE[args.rung].stage}: --optimizer is required")
    return args


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly (a ladder's rung:
    the shared loop and augmentation, and its own optimizer's settings)."""
    args = parse(argv)
    rung = FINETUNE[args.rung]
    if rung.per_optimizer:
        return {"transfer": RungData, "transfer.finetune": LadderFinetune,
                f"transfer.finetune.optim.{args.optimizer}": OptimizerConfig}
    return {"transfer": RungData, f"transfer.{rung.name}": SingleRungConfig}


def main(argv: list[str]) -> None:
    args = parse(argv)
    rung = FINETUNE[args.rung]
    cfg, section, *settings = load_params(params(argv))
    train = recipe(section.train, args.optimizer, *settings) if settings else section.train
    if distributed.launched(train):
        return
    data_path = outputs.prepared(cfg.dataset)
    data = load_prepared(data_path, cfg.train_subset)
    augment, augment_fn = augment_for(section.augment, manifest(data_path))
    for seed in cfg.seeds:
        start = rung.start(train.optimizer, seed)
        model = load_cnn(start, num_classes=data.num_classes, in_channels=data.image_shape[-1])
        freeze(model, rung.trainable_blocks)
        trained = train_variant(rung.stage, rung.variant(train.optimizer, seed), model, data,
                                train, seed=seed, runtime=load_runtime(),
                                inputs=[manifest(data_path), start],
                                run_config={"dataset": cfg.dataset,
                                            "train_subset": cfg.train_subset, "seed": seed,
                                            "rung": args.rung, "starts_from": str(start),
                                            "recipe": asdict(train), "augment": asdict(augment)},
                                augment=augment_fn, score_start=True)
        if trained:  # rank 0
            write_variant(trained, model)


if __name__ == "__main__":
    sys.exit(run_stage(main))
