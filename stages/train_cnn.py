"""Stage train_cnn@<depth>-<arch>: one depth x arch variant of the CNN study on CIFAR-10,
trained once per seed of `train_cnn.seeds` (in one process: start-up is paid once)."""

import sys
from dataclasses import asdict

import torch

from reslab.batches.augment import augment_for
from reslab.batches.loader import load_prepared, manifest
from reslab.core import outputs
from reslab.core.cli import depth_variant, run_stage
from reslab.core.config import load_params, load_runtime
from reslab.core.sections import CNNRun
from reslab.models.cnn import CNN
from reslab.train import distributed
from reslab.train.study import train_variant, write_variant


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly (the variant's
    depth and arch come as arguments)."""
    return {"train_cnn": CNNRun}


def main(argv: list[str]) -> None:
    depth, arch = depth_variant(argv, __doc__)
    (cfg,) = load_params(params(argv))
    if distributed.launched(cfg.train):
        return
    data_path = outputs.prepared(cfg.dataset)
    data = load_prepared(data_path, cfg.train_subset)
    augment, augment_fn = augment_for(cfg.augment, manifest(data_path))
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        model = CNN(depth=depth, width=cfg.width, residual=arch == "residual",
                    num_classes=data.num_classes, in_channels=data.image_shape[-1])
        run_config = asdict(cfg) | {"depth": depth, "arch": arch, "seed": seed,
                                    "augment": asdict(augment)}
        del run_config["seeds"]
        trained = train_variant("train_cnn", f"{depth}-{arch}/{seed}", model, data, cfg.train,
                                seed=seed, runtime=load_runtime(), inputs=[manifest(data_path)],
                                run_config=run_config, gradflow_batches=cfg.gradflow_batches,
                                augment=augment_fn)
        if trained:  # rank 0
            write_variant(trained, model)


if __name__ == "__main__":
    sys.exit(run_stage(main))
