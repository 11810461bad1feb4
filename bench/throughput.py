"""Training throughput: our engine against a lab-style pipeline, same model and batch size.

Lab-style = torchvision dataset of PIL images + per-sample transforms + DataLoader, fp32, NCHW
(what the original notebook did). Ours = uint8 tensors on the device, batched augmentation,
plus bf16 autocast and channels_last for the CNN (the `train_cnn` defaults).

    python bench/throughput.py                 # both models, prints a table and the ratios
    python bench/throughput.py --model cnn --steps 30

Needs `data/prepared/{mnist,cifar10}.npz` (`dvc repro prepare_data@mnist prepare_data@cifar10`).
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from reslab.config import AugmentConfig, TrainConfig
from reslab.data.augment import build_augment
from reslab.data.loader import BatchLoader, Split, load_prepared
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP
from reslab.train.engine import make_optimizer, run_epoch


def lab_dataset(cls, x, y, transform):
    """A real torchvision dataset object (its own PIL __getitem__) over in-memory arrays."""
    ds = cls.__new__(cls)
    ds.data = torch.from_numpy(x.numpy().squeeze(-1)) if cls is datasets.MNIST else x.numpy()
    ds.targets = y.tolist() if cls is datasets.CIFAR10 else y
    ds.transform, ds.target_transform = transform, None
    return ds


def time_steps(step, batches, n_steps: int, warmup: int = 3) -> float:
    """Images per second over `n_steps` training steps after `warmup` steps."""
    it = iter(batches)
    for x, y in itertools.islice(it, warmup):
        step(x, y)
    start, seen = time.perf_counter(), 0
    for x, y in itertools.islice(it, n_steps):
        step(x, y)
        seen += len(y)
    return seen / (time.perf_counter() - start)


def lab_style(model: nn.Module, ds, batch_size: int, n_steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step(x, y):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    loader = DataLoader(ds, batch_size=batch_size, shuffle=True)
    return time_steps(step, loader, n_steps)


def ours(model: nn.Module, data, batch_size: int, n_steps: int, augment, bf16: bool,
         channels_last: bool) -> float:
    """The engine's own epoch loop (`run_epoch`) over a warm-up slice, then a timed slice."""
    cfg = TrainConfig(lr=1e-3, bf16=bf16, channels_last=channels_last, wandb=False)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters(), cfg)
    gen = torch.Generator().manual_seed(0)

    def loader(n_batches: int) -> BatchLoader:
        part = Split(data.train.x[: n_batches * batch_size], data.train.y[: n_batches * batch_size])
        return BatchLoader(part, batch_size, data.mean, data.std, shuffle=True, generator=gen,
                           augment=augment, channels_last=channels_last)

    run_epoch(model, loader(3), nn.CrossEntropyLoss(), opt, bf16=bf16)
    timed = loader(n_steps)
    start = time.perf_counter()
    run_epoch(model, timed, nn.CrossEntropyLoss(), opt, bf16=bf16)
    return n_steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["cnn", "mlp", "both"], default="both")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per pipeline")
    parser.add_argument("--mlp-depth", type=int, default=10)
    parser.add_argument("--cnn-depth", type=int, default=20)
    parser.add_argument("--cnn-width", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    if args.model in ("mlp", "both"):
        data = load_prepared("data/prepared/mnist.npz")
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
        ds = lab_dataset(datasets.MNIST, data.train.x, data.train.y, tf)
        steps = args.steps * 10  # MLP steps are short: time more of them
        lab = lab_style(MLP(args.mlp_depth), ds, 256, steps)
        our = ours(MLP(args.mlp_depth), data, 256, steps, None, False, False)
        rows.append((f"MLP depth {args.mlp_depth}, batch 256", lab, our))
    if args.model in ("cnn", "both"):
        data = load_prepared("data/prepared/cifar10.npz")
        mean, std = data.mean.tolist(), data.std.tolist()
        tf = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                 transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                 transforms.Normalize(mean, std)])
        ds = lab_dataset(datasets.CIFAR10, data.train.x, data.train.y, tf)
        model = CNN(args.cnn_depth, args.cnn_width, True)
        lab = lab_style(model, ds, 64, args.steps)
        aug = build_augment(AugmentConfig(crop_padding=4, flip=True))
        our = ours(CNN(args.cnn_depth, args.cnn_width, True), data, 64, args.steps, aug,
                   True, True)
        rows.append((f"residual CNN depth {args.cnn_depth} width {args.cnn_width}, batch 64, "
                     "crop+flip", lab, our))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| model | lab-style img/s | reslab img/s | ratio |\n|---|---|---|---|")
    for name, lab, our in rows:
        print(f"| {name} | {lab:,.0f} | {our:,.0f} | {our / lab:.2f}x |")


if __name__ == "__main__":
    main()
