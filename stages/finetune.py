"""Stage finetune_<rung>: one rung of the fine-tuning ladder on the transfer dataset.

A rung's variant starts from the rung before (`reslab.core.ladder`) of the same optimizer and
seed, and trains the head and the rung's last residual blocks: ft0@<optimizer>-<seed> from the
linear probe, ft1 from ft0, ft2 from ft1. ft2_aug@<seed> is ft2 with strong train-only
augmentation, from FT1 of `transfer.ft2_aug.train.optimizer`; full@<seed> trains every layer
with the improved recipe, from the linear probe of `transfer.full.train.optimizer`. Frozen
BatchNorm layers stay in eval mode. Every rung validates its starting weights first: when no
epoch beats them, they are what the rung keeps (`selected_epoch` 0), so a rung never ends below
where it started.
"""

import argparse
import sys
from dataclasses import asdict

from reslab.batches.augment import augment_for
from reslab.batches.loader import load_prepared, manifest
from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import TransferConfig, load_runtime, load_section
from reslab.core.errors import ConfigError
from reslab.core.ladder import FINETUNE
from reslab.train.study import run_variant
from reslab.transfer import freeze, load_cnn


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rung", choices=list(FINETUNE))
    parser.add_argument("--optimizer", help="the ladder (ft0, ft1, ft2)")
    parser.add_argument("--seed", type=int, required=True, help="one of transfer.seeds")
    args = parser.parse_args(argv)
    cfg = load_section("transfer", TransferConfig)
    rung = FINETUNE[args.rung]
    if not rung.per_optimizer:
        section = getattr(cfg, rung.name)
        recipe = section.train
        if recipe.optimizer not in cfg.optimizers:
            raise ConfigError(f"transfer.{rung.name}.train.optimizer: {recipe.optimizer!r} has "
                              f"no ladder to start from (transfer.optimizers: {cfg.optimizers})")
    elif args.optimizer:
        section = cfg.finetune
        recipe = section.recipe(args.optimizer)
    else:
        raise ConfigError(f"{rung.stage}: --optimizer is required")
    data_path = outputs.prepared(cfg.dataset)
    data = load_prepared(data_path, cfg.train_subset)
    augment, augment_fn = augment_for(section.augment, manifest(data_path))
    start = rung.start(recipe.optimizer, args.seed)
    model = load_cnn(start, num_classes=data.num_classes, in_channels=data.image_shape[-1])
    freeze(model, rung.trainable_blocks)
    run_variant(rung.stage, rung.variant(recipe.optimizer, args.seed), model, data, recipe,
                seed=args.seed, runtime=load_runtime(), inputs=[manifest(data_path), start],
                run_config={"dataset": cfg.dataset, "train_subset": cfg.train_subset,
                            "seed": args.seed, "rung": args.rung, "starts_from": str(start),
                            "recipe": asdict(recipe), "augment": asdict(augment)},
                augment=augment_fn, score_start=True)


if __name__ == "__main__":
    sys.exit(run_stage(main))
