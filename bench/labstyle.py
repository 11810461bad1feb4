"""The lab's way of training, for the benchmarks: a torchvision dataset of PIL images with
per-sample transforms, a DataLoader, plain Adam, fp32, NCHW (what the original notebook did)."""

from __future__ import annotations

import itertools
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def lab_dataset(cls, x, y, transform):
    """A real torchvision dataset object (its own PIL __getitem__) over in-memory arrays."""
    ds = cls.__new__(cls)
    ds.data = torch.from_numpy(x.numpy().squeeze(-1)) if cls is datasets.MNIST else x.numpy()
    ds.targets = y.tolist() if cls is datasets.CIFAR10 else y
    ds.transform, ds.target_transform = transform, None
    return ds


def cifar_transforms(mean, std, augment: bool):
    """The lab's CIFAR pipeline: RandomCrop(32, 4) + flip for training, then ToTensor, Normalize."""
    steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] \
        if augment else []
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(mean, std)])


def epochs(loader):
    """Batches from epoch after epoch (`itertools.cycle` would replay the first epoch's)."""
    while True:
        yield from loader


CPU = torch.device("cpu")


def synchronize(device: torch.device) -> None:
    """Wait for the device, so that a timing covers the work it was given."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lab_style(model: nn.Module, ds, batch_size: int, step_only: bool = False,
              device: torch.device = CPU, num_workers: int = 0):
    """The notebook's loop: plain Adam, fp32, NCHW, a DataLoader over the PIL dataset (with
    `num_workers` worker processes), each batch copied to `device`. `step_only` trains on one
    batch drawn up front, leaving the input pipeline out. Returns `run(n_steps) -> images/s`."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                        pin_memory=device.type == "cuda", persistent_workers=num_workers > 0)
    batches = itertools.repeat(next(iter(loader))) if step_only else epochs(loader)

    def run(n_steps: int) -> float:
        synchronize(device)
        start, seen = time.perf_counter(), 0
        for x, y in itertools.islice(batches, n_steps):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            seen += len(y)
        synchronize(device)
        return seen / (time.perf_counter() - start)

    return run


@torch.no_grad()
def lab_evaluate(model: nn.Module, loader) -> tuple[float, float]:
    """(loss, accuracy %) over an unaugmented loader, in fp32."""
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        logits = model(x)
        loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return loss / n, 100.0 * correct / n


def lab_fit(model: nn.Module, train_ds, val_ds, n_epochs: int, batch_size: int = 64):
    """The lab's improved-model recipe (Adam 1e-3, ReduceLROnPlateau 0.5/2 on validation loss,
    early stopping patience 5), fp32 NCHW. Yields (epoch, val acc, cumulative training s)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=1e-6)
    train = DataLoader(train_ds, batch_size=batch_size, shuffle=True)
    val = DataLoader(val_ds, batch_size=500)
    loss_fn, seconds, best, bad = nn.CrossEntropyLoss(), 0.0, float("inf"), 0
    for epoch in range(1, n_epochs + 1):
        model.train()
        start = time.perf_counter()
        for x, y in train:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        seconds += time.perf_counter() - start
        val_loss, val_acc = lab_evaluate(model, val)
        sched.step(val_loss)
        yield epoch, val_acc, seconds
        best, bad = (val_loss, 0) if val_loss < best - 1e-3 else (best, bad + 1)
        if bad >= 5:
            return
