"""The original lab's reported numbers and the scale they were measured at (docs/lab.md).

Top-1 accuracy in percent. Each entry says which split the lab measured: it rarely measured
test accuracy, so a difference against a `val` number compares our test accuracy with its
validation accuracy. A difference is shown only where a section ran at the lab's scale on the
real dataset (`comparable`).
"""

from __future__ import annotations

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


def real_dataset(manifest: dict, name: str) -> bool:
    """Whether a prepared dataset's manifest is the real `name` (not a stand-in or another set)."""
    classes, n_train, n_test, shape = DATASETS[name]
    counts = manifest["counts"]
    return (manifest["num_classes"] == classes and manifest["image_shape"] == shape
            and counts["train"]["total"] + counts["val"]["total"] == n_train
            and counts["test"]["total"] == n_test and not manifest.get("source_note"))


def comparable(section: str, manifest: dict, train_subset: int, epochs: int,
               width: int | None = None) -> str | None:
    """None when `section` ran at the lab's scale on the lab's real dataset; else why not."""
    dataset, lab_width, lab_epochs = SCALE[section]
    why = []
    if not real_dataset(manifest, dataset):
        note = manifest.get("source_note") or f"{manifest['num_classes']} classes"
        why.append(f"the data is not the real {dataset} ({note})")
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
