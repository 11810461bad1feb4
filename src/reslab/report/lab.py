"""The original lab's reported numbers, the scale and the recipe they were measured with
(docs/lab.md).

Top-1 accuracy in percent. Each entry says which split the lab measured: it rarely measured
test accuracy. A `val` number is compared with our validation accuracy of the selected epoch
(`val_acc_at_min_loss`), a `test` one with our test accuracy. The lab's validation numbers are
of its last epoch (its restored "best" weights were the last epoch's: docs/lab.md), so val −
val compares our selected epoch with the lab's last one. A difference is shown only where a
section ran at the lab's scale on the real dataset (`comparable`), and is marked "different
recipe" where our recipe is not the lab's (`recipe_differs`).
"""

from __future__ import annotations

from reslab.core.ladder import LADDER

MLP = {  # depth -> arch -> (number, split)
    10: {"plain": (89.6, "test"), "residual": (96.04, "val")},
    20: {"plain": (80.5, "test"), "residual": (95.38, "val")},
    30: {"plain": (11.4, "test"), "residual": (95.02, "val")},
}
CNN = {40: {"plain": (73.96, "val")}, 50: {"residual": (83.52, "val")}}
IMPROVED = (89.44, "val")
RESNET20_PAPER = (91.25, "test")
SVM = (41.97, "test")
TRANSFER = {  # rung -> (number, split, optimizer the lab reported it for)
    "linear_probe": (37.72, "val", "adam"),
    "finetune_ft0": (41.76, "val", "adamw"),
    "finetune_ft1": (45.28, "val", "adamw"),
    "finetune_ft2": (47.32, "val", "adamw"),
    "finetune_ft2_aug": (50.32, "val", "adamw"),
}

DATASETS = {  # the real datasets: classes, published train and test sizes, image shape
    "mnist": (10, 60_000, 10_000, [28, 28, 1]),
    "cifar10": (10, 50_000, 10_000, [32, 32, 3]),
    "cifar100": (100, 50_000, 10_000, [32, 32, 3]),
}
LAB_VAL_SIZE = 5_000  # carved from every training set, leaving the rest to train on
SCALE = {  # section -> (dataset, width, epochs) of the lab's runs; all training images
    "train_mlp": ("mnist", 32, 20),
    "train_cnn": ("cifar10", 32, 20),
    "improve_cnn": ("cifar10", 32, 20),
    "transfer": ("cifar100", None, 30),  # the lab named no budget: our default per rung
}


RECIPE = {  # section -> what the lab's recipe fixes (docs/lab.md), as our params name it
    "train_mlp": {"optimizer": "adam", "lr": 1e-4, "weight_decay": 0.0, "batch_size": 256,
                  "scheduler": "none", "early_stop_patience": 0, "label_smoothing": 0.0},
    "train_cnn": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64,
                  "scheduler": "plateau", "plateau_factor": 0.5, "plateau_patience": 2,
                  "min_lr": 1e-6, "early_stop_patience": 5, "early_stop_min_delta": 1e-3,
                  "label_smoothing": 0.0},
    "finetune": {"batch_size": 64, "early_stop_patience": 6, "label_smoothing": 0.0},
}
RECIPE["improve_cnn"] = RECIPE["train_cnn"]
FINETUNE = {  # optimizer -> the lab's lr, weight decay (torch's defaults) and momentum
    "adam": {"lr": 1e-4, "weight_decay": 0.0},
    "adamw": {"lr": 1e-4, "weight_decay": 1e-2},
    "sgd": {"lr": 1e-2, "weight_decay": 0.0},
    "sgd_momentum": {"lr": 1e-2, "weight_decay": 0.0, "momentum": 0.9},
}
AUGMENT = {  # section -> the lab's train-only augmentation (crop padding, flip, colour jitter)
    "train_cnn": {"crop_padding": 0, "flip": False, "brightness": 0.0, "contrast": 0.0,
                  "saturation": 0.0, "hue": 0.0},
    "improve_cnn": {"crop_padding": 4, "flip": True, "brightness": 0.0, "contrast": 0.0,
                    "saturation": 0.0, "hue": 0.0},
    "finetune_ft2_aug": {"crop_padding": 4, "flip": True, "brightness": 0.2, "contrast": 0.2,
                         "saturation": 0.2, "hue": 0.1},
}
AUGMENT["finetune"] = AUGMENT["train_cnn"]
SVM_RECIPE = {"svm_C": [1.0], "svm_max_iter": 5000}  # the lab's LinearSVC
PROBE = ("a head on standardised features of the frozen backbone, BatchNorm frozen (the lab "
         "trained the head on images and let BatchNorm re-estimate its statistics)")
RUNG = "from our probe, frozen BatchNorm in eval mode (the lab's kept re-estimating)"


def recipe_differs(section: str, train, augment=None, augment_of: str | None = None) -> str | None:
    """None when `train` (a TrainConfig) and `augment` (an AugmentConfig; the lab's of
    `augment_of`, default `section`) are the lab's recipe for `section` ("finetune" for a rung,
    with the lab's settings of `train.optimizer`); else what differs. A key that does nothing in
    our recipe (the plateau's settings without a plateau scheduler, min_delta without early
    stopping) is not compared: the scheduler or the patience already says how they differ."""
    lab = dict(RECIPE[section])
    if section == "finetune":
        lab |= FINETUNE[train.optimizer]

    def inert(key: str) -> bool:
        if key in ("plateau_factor", "plateau_patience"):
            return train.scheduler != "plateau"
        if key == "min_lr":  # the floor of the plateau and of the cosine schedule
            return train.scheduler == "none"
        return key == "early_stop_min_delta" and train.early_stop_patience == 0

    why = [f"{k} {getattr(train, k)} (the lab: {v})" for k, v in lab.items()
           if getattr(train, k) != v and not inert(k)]
    if augment is not None:
        why += [f"augment.{k} {getattr(augment, k)} (the lab: {v})"
                for k, v in AUGMENT[augment_of or section].items() if getattr(augment, k) != v]
    return "; ".join(why) or None


def transfer_recipes(tr, data: dict) -> dict[tuple[str, str], str]:
    """(rung, optimizer) -> how that transfer row's own recipe differs from the lab's, ("svm",
    "") for the SVM (absent when it does not); the backbone's is said once, by the report.
    `tr`: the TransferConfig; `data`: the target's manifest (what augmentation it allows). The
    probe always differs (`PROBE`), and every rung starts from it (`RUNG`)."""
    out = {}
    if (tr.svm_C, tr.svm_max_iter) != (SVM_RECIPE["svm_C"], SVM_RECIPE["svm_max_iter"]):
        out[("svm", "")] = (f"C {tr.svm_C}, max_iter {tr.svm_max_iter} (the lab: C "
                            f"{SVM_RECIPE['svm_C'][0]}, max_iter {SVM_RECIPE['svm_max_iter']})")
    for opt in tr.optimizers:
        out[(LADDER[0].stage, opt)] = PROBE
        rung = recipe_differs("finetune", tr.finetune.recipe(opt),
                              tr.finetune.augment.for_data(data))
        for name in (r.stage for r in LADDER if r.starts_from):
            out[(name, opt)] = "; ".join(w for w in (RUNG, rung) if w)
    aug = recipe_differs("finetune", tr.ft2_aug.train, tr.ft2_aug.augment.for_data(data),
                         "finetune_ft2_aug")
    out[("finetune_ft2_aug", tr.ft2_aug.train.optimizer)] = "; ".join(
        w for w in (RUNG, aug) if w)
    return out


def real_dataset(manifest: dict, name: str) -> bool:
    """Whether a prepared dataset's manifest is the real `name` (not a stand-in or another set)."""
    classes, n_train, n_test, shape = DATASETS[name]
    counts = manifest["counts"]
    return (manifest["num_classes"] == classes and manifest["image_shape"] == shape
            and counts["train"]["total"] + counts["val"]["total"] == n_train
            and manifest.get("test_of", counts["test"]["total"]) == n_test
            and not manifest.get("source_note"))


def comparable(section: str, manifest: dict, train_subset: int, epochs: int,
               width: int | None = None) -> str | None:
    """None when `section` ran at the lab's scale on the lab's real dataset; else why not."""
    dataset, lab_width, lab_epochs = SCALE[section]
    why = []
    if not real_dataset(manifest, dataset):
        note = manifest.get("source_note") or f"{manifest['num_classes']} classes"
        why.append(f"the data is not the real {dataset} ({note})")
    test, test_of = manifest["counts"]["test"]["total"], manifest.get("test_of")
    if test_of and test != test_of:
        why.append(f"{test:,} of the {test_of:,} test images")
    val = manifest["counts"]["val"]["total"]
    if val != LAB_VAL_SIZE:
        why.append(f"a {val:,}-image validation split (the lab: {LAB_VAL_SIZE:,})")
    if train_subset:
        why.append(f"{train_subset:,} training images (the lab: all)")
    if epochs < lab_epochs:
        why.append(f"{epochs} epochs (the lab: {lab_epochs})")
    if lab_width is not None and width != lab_width:
        why.append(f"width {width} (the lab: {lab_width})")
    return "; ".join(why) or None
