"""Stage linear_probe@<optimizer>: a new head on the frozen backbone, trained on its features,
once per seed of `transfer.seeds`.

The backbone is frozen and there is no augmentation, so the head trains on the features that
`extract_features` computed once (equal to running the backbone every epoch, much faster),
standardised with the training split's statistics as the SVM baseline's are (a near-constant
feature's std is floored, see `transfer.feature_data`). The saved model is
the whole network (backbone + the head folded back onto raw features), where FT0 starts.
"""

import argparse
import sys
from dataclasses import asdict
from typing import get_args

from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import Optimizer, OptimizerConfig, load_params, load_runtime, recipe
from reslab.core.ladder import RUNGS, backbone
from reslab.core.sections import LadderRung, ProbeData
from reslab.train import distributed
from reslab.train.study import train_variant, write_variant
from reslab.transfer import (
    feature_data,
    freeze,
    load_cnn,
    load_features,
    unstandardised_head,
    with_new_head,
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--optimizer", choices=get_args(Optimizer), required=True)
    parser.add_argument("--backbone-seed", type=int, required=True,
                        help="the improve_cnn seed whose model is the backbone")
    return parser.parse_args(argv)


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly (the probe's loop
    and its own optimizer's settings)."""
    return {"transfer": ProbeData, "transfer.probe": LadderRung,
            f"transfer.probe.optim.{parse(argv).optimizer}": OptimizerConfig}


def main(argv: list[str]) -> None:
    args = parse(argv)
    cfg, probe, settings = load_params(params(argv))
    train = recipe(probe.train, args.optimizer, settings)
    if distributed.launched(train):
        return
    backbone_path = backbone(args.backbone_seed)
    features_path = outputs.features(cfg.dataset)
    features = load_features(features_path)
    data = feature_data(features, [str(c) for c in features["classes"]])
    rung = RUNGS["linear_probe"]
    for seed in cfg.seeds:
        model = with_new_head(load_cnn(backbone_path), data.num_classes, seed)
        freeze(model, rung.trainable_blocks)
        trained = train_variant(rung.stage, rung.variant(args.optimizer, seed), model.head,
                                data, train, seed=seed, runtime=load_runtime(),
                                inputs=[features_path, backbone_path],
                                run_config={"dataset": cfg.dataset, "seed": seed,
                                            "recipe": asdict(train)})
        if trained:  # rank 0
            model.head = unstandardised_head(model.head, data.mean, data.std)
            write_variant(trained, model)


if __name__ == "__main__":
    sys.exit(run_stage(main))
