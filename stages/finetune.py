"""Stage finetune_<rung>: one rung of the fine-tuning ladder on the transfer dataset.

ft0@<optimizer>-<seed> starts from that optimizer's linear probe of the same seed and trains the
head + last residual block; ft1 starts from ft0 and adds the block before; ft2 from ft1 adds one
more. ft2_aug@<seed> is ft2 with strong train-only augmentation, from FT1 of
`transfer.ft2_aug.train.optimizer`; full@<seed> trains every layer with the improved recipe,
from the linear probe of `transfer.full.train.optimizer`. Frozen BatchNorm layers stay in eval
mode.
"""

import argparse
import sys

from reslab.core.cli import run_stage
from reslab.core.config import SINGLE_RUNGS, TransferConfig, as_dict, load_runtime, load_section
from reslab.core.errors import ConfigError
from reslab.data.augment import build_augment
from reslab.data.loader import load_prepared, manifest
from reslab.train.study import run_variant
from reslab.transfer import RUNGS, STARTS_FROM, freeze, load_cnn

SINGLE = tuple(SINGLE_RUNGS.values())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rung", choices=["ft0", "ft1", "ft2", *SINGLE])
    parser.add_argument("--optimizer", help="the ladder (ft0, ft1, ft2)")
    parser.add_argument("--seed", type=int, required=True, help="one of transfer.seeds")
    args = parser.parse_args(argv)
    cfg = load_section("transfer", TransferConfig)
    stage = f"finetune_{args.rung}"
    if args.rung in SINGLE:
        rung = getattr(cfg, args.rung)
        recipe, variant = rung.train, str(args.seed)
        if recipe.optimizer not in cfg.optimizers:
            raise ConfigError(f"transfer.{args.rung}.train.optimizer: {recipe.optimizer!r} has "
                              f"no ladder to start from (transfer.optimizers: {cfg.optimizers})")
    elif args.optimizer:
        rung = cfg.finetune
        recipe, variant = rung.recipe(args.optimizer), f"{args.optimizer}-{args.seed}"
    else:
        raise ConfigError(f"{stage}: --optimizer is required")
    data_path = f"data/prepared/{cfg.dataset}.npz"
    data = load_prepared(data_path, cfg.train_subset)
    start = f"models/{STARTS_FROM[stage]}/{recipe.optimizer}-{args.seed}.pt"
    model = load_cnn(start, num_classes=data.num_classes, in_channels=data.image_shape[-1])
    freeze(model, RUNGS[stage])
    run_variant(stage, variant, model, data, recipe, seed=args.seed, runtime=load_runtime(),
                inputs=[manifest(data_path), start],
                run_config={"dataset": cfg.dataset, "train_subset": cfg.train_subset,
                            "seed": args.seed, "rung": args.rung, "starts_from": start,
                            "recipe": as_dict(recipe), "augment": as_dict(rung.augment)},
                augment=build_augment(rung.augment))


if __name__ == "__main__":
    sys.exit(run_stage(main))
