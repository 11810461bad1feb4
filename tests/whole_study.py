"""The whole study on tiny generated data through the real DVC CLI (`build`, run once by
tests/test_pipeline_study.py), and what its tests read of it."""

import json
import re

from conftest import make_dvc_repo, make_mirror
from reslab.datasets.standin import make_imagefolder_zip

STUDY_PARAMS = {
    "train_mlp": {"seeds": [0, 1]},
    "train_cnn": {"depths": [9, 11], "width": 8, "gradflow_batches": 1,
                  "train": {"epochs": 1, "batch_size": 32, "eval_batch_size": 256}},
    # enough steps that the backbone's BatchNorm statistics settle (a rung that unfreezes a
    # block switches its BatchNorm to batch statistics; far-off running ones blow up FT0)
    "improve_cnn": {"depth": 9, "width": 8, "gradflow_batches": 1,
                    "train": {"epochs": 8, "batch_size": 16, "eval_batch_size": 256}},
    "transfer": {
        "optimizers": ["adamw", "sgd_momentum"], "feature_batch_size": 256, "svm_max_iter": 500,
        "probe": {"optim": {"adamw": {"lr": 3e-2}, "sgd_momentum": {"lr": 0.3}},
                  "train": {"epochs": 30, "batch_size": 32}},
        "finetune": {"optim": {"adamw": {"lr": 1e-3}, "sgd_momentum": {"lr": 0.02}},
                     "train": {"epochs": 2, "batch_size": 32, "eval_batch_size": 256}},
        "ft2_aug": {"train": {"lr": 1e-3, "epochs": 2, "batch_size": 32,
                              "eval_batch_size": 256}},
        "full": {"train": {"lr": 1e-3, "epochs": 2, "batch_size": 32, "eval_batch_size": 256}},
    },
}
CHANCE = 1.0  # percent, 100 classes
DOWNLOAD = "sources/dvc.yaml:download_data"


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    mirror = make_mirror(root / "mirror")
    make_imagefolder_zip(mirror / "cifar100.zip", classes=100, n_train=8, n_test=3, size=32,
                         mode="RGB", seed=7)
    repo = make_dvc_repo(root / "repo", mirror, STUDY_PARAMS)
    repo.first_run = repo.dvc("repro").stdout
    repo.commit("the study")
    return repo


def workspace_metrics(repo) -> dict:
    """`dvc metrics show --json` of the workspace: path -> {"data": ...}."""
    (shown,) = json.loads(repo.dvc("metrics", "show", "--json").stdout).values()
    return shown["data"]


def status(repo) -> set[str]:
    return set(json.loads(repo.dvc("status", "--json").stdout)) - {DOWNLOAD}
