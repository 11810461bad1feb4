"""Smoke test of the whole study: every stage of dvc.yaml through `dvc repro` on tiny generated
data (mirror zips for all three datasets, a 100-class CIFAR-100-shaped stand-in), then the report,
the transfer ladder's invariants, and a second `dvc repro` that does nothing."""

import json
import re

import torch

from reslab.datasets.standin import make_imagefolder_zip
from reslab.transfer import load_cnn

STUDY_PARAMS = {
    "train_cnn": {"depths": [9, 11], "width": 4, "gradflow_batches": 1,
                  "train": {"epochs": 1, "batch_size": 32, "eval_batch_size": 256}},
    "improve_cnn": {"depth": 9, "width": 8, "gradflow_batches": 1,
                    "train": {"epochs": 2, "batch_size": 32, "eval_batch_size": 256}},
    "transfer": {
        "optimizers": ["adamw", "sgd_momentum"], "feature_batch_size": 256, "svm_max_iter": 500,
        "probe": {"lr": {"adamw": 3e-2, "sgd_momentum": 0.3},
                  "train": {"epochs": 30, "batch_size": 32}},
        "finetune": {"lr": {"adamw": 1e-3, "sgd_momentum": 0.02},
                     "train": {"epochs": 2, "batch_size": 32, "eval_batch_size": 256}},
        "ft2_aug": {"lr": {"adamw": 1e-3},
                    "train": {"epochs": 2, "batch_size": 32, "eval_batch_size": 256}},
    },
}
RUNGS = ["linear_probe", "finetune_ft0", "finetune_ft1", "finetune_ft2"]
CHANCE = 1.0  # percent, 100 classes


def test_whole_study(dvc_repo):
    make_imagefolder_zip(dvc_repo.path.parent / "mirror" / "cifar100.zip", classes=100,
                         n_train=8, n_test=3, size=32, mode="RGB", seed=7)
    dvc_repo.set_params(STUDY_PARAMS)
    dvc_repo.dvc("repro")
    root = dvc_repo.path

    def metrics(path):
        return json.loads((root / "metrics" / path).read_text())

    # every stage left its outputs
    listed = json.loads(dvc_repo.dvc("metrics", "show", "--json").stdout)
    shown = json.dumps(listed)
    for name in ("train_mlp/4-residual", "train_cnn/11-plain", "improve_cnn", "svm_baseline",
                 "linear_probe/adamw", "finetune_ft2/sgd_momentum", "finetune_ft2_aug"):
        assert f"metrics/{name}.json" in shown
    figures = sorted(p.name for p in (root / "plots/figures/train_cnn").iterdir())
    assert figures == ["accuracy_vs_depth.png", "gradflow_depth11.png", "gradflow_depth9.png"]

    # the transfer ladder: above chance everywhere, more trainable at each rung
    assert metrics("svm_baseline.json")["test_acc"] > 5 * CHANCE
    for opt in ("adamw", "sgd_momentum"):
        ladder = [metrics(f"{rung}/{opt}.json") for rung in RUNGS]
        fractions = [m["trainable_fraction"] for m in ladder]
        assert fractions == sorted(fractions) and len(set(fractions)) == 4
        for m in ladder:
            assert m["test_acc"] > 5 * CHANCE
    aug = metrics("finetune_ft2_aug.json")
    assert aug["test_acc"] > 5 * CHANCE
    assert aug["trainable_fraction"] == metrics("finetune_ft2/adamw.json")["trainable_fraction"]

    # frozen parts never move along the ladder; the block a rung unfreezes does
    backbone = load_cnn(root / "models/improve_cnn.pt")
    ft1 = load_cnn(root / "models/finetune_ft1/adamw.pt")
    ft2 = load_cnn(root / "models/finetune_ft2/adamw.pt")
    pairs = [(backbone.stem, ft2.stem), (backbone.blocks[-3], ft1.blocks[-3])]
    for a, b in pairs:
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values(), strict=True))
    assert not torch.equal(backbone.blocks[-3].body[0].weight, ft2.blocks[-3].body[0].weight)
    assert ft2.head.out_features == 100

    # the report names every stage's number and says the target data is a stand-in
    report = (root / "reports/results.md").read_text()
    numbers = [metrics(p)["test_acc"] for p in (
        "train_mlp/2-plain.json", "train_mlp/4-residual.json", "train_cnn/9-plain.json",
        "train_cnn/11-residual.json", "improve_cnn.json", "svm_baseline.json",
        "linear_probe/adamw.json", "finetune_ft0/sgd_momentum.json", "finetune_ft1/adamw.json",
        "finetune_ft2/sgd_momentum.json", "finetune_ft2_aug.json")]
    for value in numbers:
        assert f"| {value:.2f} |" in report
    assert "generated stand-in" in report
    for image in re.findall(r"\]\(([^)]+\.png)\)", report):
        assert (root / "reports" / image).resolve().exists(), image

    # nothing changed: a second repro runs no stage
    again = dvc_repo.dvc("repro").stdout
    assert "Running stage" not in again
    assert not dvc_repo.resume_dir_has_files()
