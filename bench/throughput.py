"""Training throughput: our engine against a lab-style pipeline, same model and batch size.

Lab-style = torchvision dataset of PIL images + per-sample transforms + DataLoader, fp32, NCHW
(what the original notebook did). Ours = uint8 tensors on the device, batched augmentation,
plus bf16 autocast and channels_last for the CNN (the `train_cnn` defaults). A third column
times the lab's model step alone (fp32, NCHW, one batch kept in memory, no input pipeline):
the part of the lab's step that data handling cannot speed up.

The pipelines take turns, `--rounds` times, so that a slow spell of a shared machine hits them
alike; each ratio is ours / lab-style within one round, and the table shows their median.

    python bench/throughput.py                 # both models, prints a table and the ratios
    python bench/throughput.py --model cnn --rounds 7

Needs `data/prepared/{mnist,cifar10}.npz` (`dvc repro prepare_data@mnist prepare_data@cifar10`).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from reslab.core.config import AugmentConfig, TrainConfig
from reslab.data.augment import build_augment
from reslab.data.loader import BatchLoader, Prepared, Split, load_prepared
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP
from reslab.train.engine import make_optimizer, run_epoch

WARMUP_STEPS = 3


def lab_dataset(cls, x, y, transform):
    """A real torchvision dataset object (its own PIL __getitem__) over in-memory arrays."""
    ds = cls.__new__(cls)
    ds.data = torch.from_numpy(x.numpy().squeeze(-1)) if cls is datasets.MNIST else x.numpy()
    ds.targets = y.tolist() if cls is datasets.CIFAR10 else y
    ds.transform, ds.target_transform = transform, None
    return ds


def epochs(loader):
    """Batches from epoch after epoch (`itertools.cycle` would replay the first epoch's)."""
    while True:
        yield from loader


def lab_style(model: nn.Module, ds, batch_size: int, step_only: bool = False):
    """The notebook's loop: plain Adam, fp32, NCHW, a DataLoader over the PIL dataset.
    `step_only` trains on one batch drawn up front, leaving the input pipeline out."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True)
    batches = itertools.repeat(next(iter(loader))) if step_only else epochs(loader)

    def run(n_steps: int) -> float:
        start, seen = time.perf_counter(), 0
        for x, y in itertools.islice(batches, n_steps):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            seen += len(y)
        return seen / (time.perf_counter() - start)

    return run


def ours(model: nn.Module, data: Prepared, batch_size: int, augment, bf16: bool,
         channels_last: bool):
    """The engine's own epoch loop (`run_epoch`) over `n_steps` batches of the training split."""
    cfg = TrainConfig(lr=1e-3, bf16=bf16, channels_last=channels_last)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters(), cfg)
    loss_fn = nn.CrossEntropyLoss()

    def run(n_steps: int) -> float:
        n = n_steps * batch_size
        idx = torch.arange(n) % len(data.train)  # wraps round when a turn outlasts the split
        part = Split(data.train.x[idx], data.train.y[idx])
        loader = BatchLoader(part, batch_size, data.mean, data.std, shuffle=True, seed=n_steps,
                             augment=augment, channels_last=channels_last)
        start = time.perf_counter()
        run_epoch(model, loader, loss_fn, opt, bf16=bf16)
        return n / (time.perf_counter() - start)

    return run


def take_turns(pipelines: dict, steps: int, rounds: int) -> dict[str, list[float]]:
    """Warm each pipeline up, then time `steps` steps of each in turn, `rounds` times."""
    for run in pipelines.values():
        run(WARMUP_STEPS)
    speeds = {name: [] for name in pipelines}
    for _ in range(rounds):
        for name, run in pipelines.items():
            speeds[name].append(run(steps))
    return speeds


def row(name: str, speeds: dict[str, list[float]]) -> str:
    med = {k: statistics.median(v) for k, v in speeds.items()}
    ratios = [o / lab for o, lab in zip(speeds["ours"], speeds["lab"], strict=True)]
    return (f"| {name} | {med['lab']:,.0f} | {med['lab_step']:,.0f} | {med['ours']:,.0f} | "
            f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["cnn", "mlp", "both"], default="both")
    parser.add_argument("--steps", type=int, default=20, help="timed CNN steps per turn "
                        "(the MLP's steps are short: it takes 20x as many)")
    parser.add_argument("--rounds", type=int, default=5, help="turns each pipeline takes")
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
        speeds = take_turns({
            "lab": lab_style(MLP(args.mlp_depth), ds, 256),
            "lab_step": lab_style(MLP(args.mlp_depth), ds, 256, step_only=True),
            "ours": ours(MLP(args.mlp_depth), data, 256, None, False, False),
        }, args.steps * 20, args.rounds)
        rows.append(row(f"MLP depth {args.mlp_depth}, batch 256", speeds))
    if args.model in ("cnn", "both"):
        data = load_prepared("data/prepared/cifar10.npz")
        mean, std = data.mean.tolist(), data.std.tolist()
        tf = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                 transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                 transforms.Normalize(mean, std)])
        ds = lab_dataset(datasets.CIFAR10, data.train.x, data.train.y, tf)
        aug = build_augment(AugmentConfig(crop_padding=4, flip=True))
        cnn = lambda: CNN(args.cnn_depth, args.cnn_width, True)  # noqa: E731
        speeds = take_turns({
            "lab": lab_style(cnn(), ds, 64),
            "lab_step": lab_style(cnn(), ds, 64, step_only=True),
            "ours": ours(cnn(), data, 64, aug, True, True),
        }, args.steps, args.rounds)
        rows.append(row(f"residual CNN depth {args.cnn_depth} width {args.cnn_width}, batch 64, "
                        "crop+flip", speeds))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds, median img/s")
    print("| model | lab-style | lab model step alone | reslab | ratio, median (range) |\n"
          "|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
