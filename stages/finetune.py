"""Stage finetune_<rung>@<optimizer>: one rung of the fine-tuning ladder on the transfer dataset.

ft0 starts from the linear probe and trains the head + last residual block; ft1 starts from ft0
and adds the block before; ft2 from ft1 adds one more; ft2_aug is ft2 with strong train-only
augmentation, starting from ft1 of `transfer.ft2_aug_optimizer`. Frozen blocks stay in eval mode.
"""

import argparse
import sys

from reslab.cli import run_stage
from reslab.config import TransferConfig, as_dict, load_section
from reslab.data.augment import build_augment
from reslab.data.loader import load_prepared
from reslab.errors import ConfigError
from reslab.study import run_variant
from reslab.transfer import RUNGS, STARTS_FROM, freeze, load_cnn


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rung", choices=["ft0", "ft1", "ft2", "ft2_aug"])
    parser.add_argument("--optimizer", help="the ladder (default for ft2_aug: from params)")
    args = parser.parse_args(argv)
    cfg = load_section("transfer", TransferConfig)
    stage = f"finetune_{args.rung}"
    aug_rung = args.rung == "ft2_aug"
    optimizer = args.optimizer or (cfg.ft2_aug_optimizer if aug_rung else None)
    if optimizer is None:
        raise ConfigError(f"{stage}: --optimizer is required")
    rung = cfg.ft2_aug if aug_rung else cfg.finetune
    recipe = rung.recipe(optimizer)
    data = load_prepared(f"data/prepared/{cfg.dataset}.npz", cfg.train_subset, recipe.seed)
    start = f"models/{STARTS_FROM[stage]}/{optimizer}.pt"
    model = load_cnn(start, num_classes=data.num_classes, in_channels=data.image_shape[-1])
    freeze(model, RUNGS[stage])
    run_variant(stage, None if aug_rung else optimizer, model, data, recipe,
                run_config={**as_dict(cfg), "rung": args.rung, "optimizer": optimizer,
                            "starts_from": start},
                augment=build_augment(rung.augment))


if __name__ == "__main__":
    sys.exit(run_stage(main))
