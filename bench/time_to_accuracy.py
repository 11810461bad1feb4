"""Time to the lab's accuracy: the lab's way against ours, on the same CIFAR-10 images.

Both train the residual CNN of depth 20 on the same seeded subset of the training split and
are scored on the prepared validation split after every epoch; training time is cumulative
(evaluation excluded).

- the lab's way: a torchvision dataset of PIL images, per-sample random crop and flip, a
  DataLoader, fp32 NCHW, the lab's improved-model recipe (Adam 1e-3, plateau schedule), E epochs;
- ours: `improve_cnn`'s recipe from params.yaml through the engine (uint8 tensors, batched
  augmentation, bf16 and channels_last) with a budget of `--our-epochs` (at most E), and three
  changes for a short run on a CPU, each a flag: batch 128 (about 15% more images/s here
  than 64), lr 3e-3 to go with it, and no random crop (over 5 epochs crops cost accuracy,
  as in the quick profile). params.yaml keeps the full-scale recipe, which these are not
  shown to serve.

The target is the best validation accuracy the lab's way reached; the ratio is the lab's time
to reach it over ours. The last line printed is `time-to-accuracy ratio: N.NNx`.

    python bench/time_to_accuracy.py                     # 10,000 images, width 16, E = 8
    python bench/time_to_accuracy.py --our-epochs 4 --batch-size 64 --lr 2e-3 --crop-padding 4

Needs `data/prepared/cifar10.npz` (`dvc repro prepare_data@cifar10`).
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from labstyle import cifar_transforms, lab_dataset, lab_fit
from torchvision import datasets

from reslab.batches.augment import build_augment
from reslab.batches.loader import load_prepared
from reslab.core.config import load
from reslab.core.sections import ImproveConfig
from reslab.models.cnn import CNN
from reslab.train import precision
from reslab.train.engine import fit
from reslab.train.study import loaders


def first_reaching(curve: list[tuple[int, float, float]], target: float):
    """(epoch, seconds) of the first epoch whose validation accuracy reaches `target`."""
    return next(((e, s) for e, acc, s in curve if acc >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-subset", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=8, help="E: the lab's epochs")
    parser.add_argument("--our-epochs", type=int, default=5, help="our budget (at most E)")
    parser.add_argument("--batch-size", type=int, default=128, help="ours (params.yaml: 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="ours (params.yaml: 2e-3)")
    parser.add_argument("--crop-padding", type=int, default=0, help="ours (params.yaml: 4)")
    parser.add_argument("--depth", type=int, default=20)
    args = parser.parse_args()
    if not 1 <= args.our_epochs <= args.epochs:
        parser.error("--our-epochs must be between 1 and --epochs")
    data = load_prepared("data/prepared/cifar10.npz", args.train_subset)
    cfg = load("improve_cnn", ImproveConfig)
    mean, std = data.mean.tolist(), data.std.tolist()

    torch.manual_seed(cfg.seeds[0])
    train_ds = lab_dataset(datasets.CIFAR10, data.train.x, data.train.y,
                           cifar_transforms(mean, std, augment=True))
    val_ds = lab_dataset(datasets.CIFAR10, data.val.x, data.val.y,
                         cifar_transforms(mean, std, augment=False))
    lab = []
    for epoch, acc, seconds in lab_fit(CNN(depth=args.depth, width=args.width, residual=True,
                                           num_classes=10, in_channels=3), train_ds, val_ds,
                                       args.epochs):
        lab.append((epoch, acc, seconds))
        print(f"lab's way epoch {epoch}: val acc {acc:.2f}%, {seconds:.1f} s", flush=True)

    recipe = dataclasses.replace(cfg.train, epochs=args.our_epochs, batch_size=args.batch_size,
                                 lr=args.lr)
    augment = build_augment(dataclasses.replace(cfg.augment, crop_padding=args.crop_padding))
    print(f"ours: improve_cnn's recipe ({recipe.optimizer}, lr {recipe.lr:g}, batch "
          f"{recipe.batch_size}, {recipe.scheduler}, label smoothing {recipe.label_smoothing}), "
          f"crop padding {args.crop_padding}, {args.our_epochs} epochs",
          flush=True)
    torch.manual_seed(cfg.seeds[0])
    model = CNN(depth=args.depth, width=args.width, residual=True, num_classes=data.num_classes,
                in_channels=3)
    chosen = precision.prepare(model, recipe, torch.device("cpu"), "ours")
    print(f"ours runs bf16 {chosen.bf16}, channels_last {chosen.channels_last} "
          f"({precision.describe_cpu()})", flush=True)
    train, val, _ = loaders(data, recipe, torch.device("cpu"), cfg.seeds[0], augment,
                            chosen.channels_last)
    result = fit(model, train, val, recipe, bf16=chosen.bf16, desc="ours", progress=False)
    cumulative = torch.tensor(result.epoch_seconds).cumsum(0).tolist()
    ours = [(r["epoch"], r["val_acc"], s) for r, s in zip(result.history, cumulative,
                                                           strict=True)]

    target = max(acc for _, acc, _ in lab)
    print(f"\nresidual CNN depth {args.depth} width {args.width}, {len(data.train):,} training "
          f"images, {len(data.val):,} validation images; target = the lab's best: {target:.2f}%")
    print("| epoch | lab's way: val acc | lab's way: time (s) | ours: val acc | ours: time (s) |\n"
          "|---|---|---|---|---|")
    for i in range(max(len(lab), len(ours))):
        cells = [f"{lab[i][1]:.2f} | {lab[i][2]:.1f}" if i < len(lab) else "— | —",
                 f"{ours[i][1]:.2f} | {ours[i][2]:.1f}" if i < len(ours) else "— | —"]
        print(f"| {i + 1} | {cells[0]} | {cells[1]} |")
    lab_hit, our_hit = first_reaching(lab, target), first_reaching(ours, target)
    if our_hit is None:
        print(f"ours did not reach {target:.2f}% within {args.our_epochs} epochs")
        print("time-to-accuracy ratio: n/a")
        return
    print(f"lab's way: {lab_hit[1]:.1f} s (epoch {lab_hit[0]}); ours: {our_hit[1]:.1f} s "
          f"(epoch {our_hit[0]})")
    print(f"time-to-accuracy ratio: {lab_hit[1] / our_hit[1]:.2f}x")


if __name__ == "__main__":
    main()
