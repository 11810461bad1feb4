"""Stage train_mlp@<depth>-<arch>-<seed>: one MLP of the depth x arch x seed study on MNIST."""

import sys
from dataclasses import asdict

import torch

from reslab.batches.loader import load_prepared, manifest
from reslab.core import outputs
from reslab.core.cli import depth_variant, run_stage
from reslab.core.config import load_params, load_runtime
from reslab.core.sections import MLPRun
from reslab.models.mlp import MLP
from reslab.train.study import train_variant, write_variant


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly (the variant's
    depth, arch and seed come as arguments)."""
    return {"train_mlp": MLPRun}


def main(argv: list[str]) -> None:
    depth, arch, seed = depth_variant(argv, __doc__)
    (cfg,) = load_params(params(argv))
    data_path = outputs.prepared(cfg.dataset)
    data = load_prepared(data_path, cfg.train_subset)
    torch.manual_seed(seed)
    model = MLP(depth=depth, width=cfg.width, residual=arch == "residual",
                num_classes=data.num_classes, in_shape=data.image_shape)
    trained = train_variant("train_mlp", f"{depth}-{arch}-{seed}", model, data, cfg.train,
                            seed=seed, runtime=load_runtime(), inputs=[manifest(data_path)],
                            run_config=asdict(cfg) | {"depth": depth, "arch": arch, "seed": seed},
                            gradflow_batches=cfg.gradflow_batches)
    if trained:  # rank 0
        write_variant(trained, model)


if __name__ == "__main__":
    sys.exit(run_stage(main))
