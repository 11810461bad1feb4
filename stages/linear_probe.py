"""Stage linear_probe@<optimizer>: a new head on the frozen backbone, trained on its features.

The backbone is frozen and there is no augmentation, so the head trains on the features that
`extract_features` computed once (equal to running the backbone every epoch, much faster).
The saved model is the whole network (backbone + head), where FT0 starts.
"""

import argparse
import sys

from reslab.cli import run_stage
from reslab.config import TransferConfig, as_dict, load_section
from reslab.study import run_variant
from reslab.transfer import BACKBONE, feature_data, freeze, load_cnn, load_features, with_new_head


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--optimizer", required=True)
    args = parser.parse_args(argv)
    cfg = load_section("transfer", TransferConfig)
    recipe = cfg.probe.recipe(args.optimizer)
    features = load_features(f"data/features/{cfg.dataset}.npz")
    data = feature_data(features, [str(c) for c in features["classes"]])
    model = with_new_head(load_cnn(BACKBONE), data.num_classes, recipe.seed)
    freeze(model, 0)
    run_variant("linear_probe", args.optimizer, model.head, data, recipe,
                run_config={**as_dict(cfg), "optimizer": args.optimizer}, saved=model)


if __name__ == "__main__":
    sys.exit(run_stage(main))
