"""The original lab's reported numbers (../shared/reference/lab-facts.md), top-1 in percent.

Each entry says which split the lab measured: the lab rarely measured test accuracy, so a
difference against a `val` number compares our test accuracy with its validation accuracy.
"""

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
