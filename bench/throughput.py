"""Training throughput: our engine against a lab-style pipeline, same model and batch size.

Lab-style = torchvision dataset of PIL images + per-sample transforms + DataLoader, fp32, NCHW
(what the original notebook did). Ours = uint8 tensors on the device, batched augmentation,
plus bf16 autocast and channels_last for the CNN (the `train_cnn` defaults). A third column
times the lab's model step alone (fp32, NCHW, one batch kept in memory, no input pipeline):
the part of the lab's step that data handling cannot speed up.

The pipelines take turns, `--rounds` times, so that a slow spell of a shared machine hits them
alike; each ratio is ours / lab-style within one round, and the table shows their median. For
the CNN it also prints the FLOP rate our step achieves (FLOPs counted by torch's
FlopCounterMode) against this machine's bf16 matrix-product peak, measured in the same run.

    python bench/throughput.py                 # both models, prints a table and the ratios
    python bench/throughput.py --model cnn --rounds 5

Needs `data/prepared/{mnist,cifar10}.npz` (`dvc repro prepare_data@mnist prepare_data@cifar10`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from labstyle import CPU, cifar_transforms, lab_dataset, lab_style, synchronize
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision import datasets, transforms

from reslab.core.config import AugmentConfig, TrainConfig
from reslab.data.augment import build_augment
from reslab.data.loader import BatchLoader, Prepared, Split, load_prepared
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP
from reslab.train.engine import make_optimizer, run_epoch

WARMUP_STEPS = 3


def ours(model: nn.Module, data: Prepared, batch_size: int, augment, bf16: bool,
         channels_last: bool, device: torch.device = CPU):
    """The engine's own epoch loop (`run_epoch`) over `n_steps` batches of the training split,
    the images kept on `device` (where `model` already is)."""
    cfg = TrainConfig(lr=1e-3, bf16=bf16, channels_last=channels_last)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters(), cfg)
    loss_fn = nn.CrossEntropyLoss()

    def run(n_steps: int) -> float:
        n = n_steps * batch_size
        idx = torch.arange(n) % len(data.train)  # wraps round when a turn outlasts the split
        part = Split(data.train.x[idx], data.train.y[idx])
        loader = BatchLoader(part, batch_size, data.mean, data.std, device=device, shuffle=True,
                             seed=n_steps, augment=augment, channels_last=channels_last)
        synchronize(device)
        start = time.perf_counter()
        run_epoch(model, loader, loss_fn, opt, bf16=bf16, progress=False)
        synchronize(device)
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


def step_flops(model: nn.Module, batch: int, image: tuple[int, ...]) -> int:
    """FLOPs of one training step (forward and backward) on `batch` images, as counted by
    torch.utils.flop_counter.FlopCounterMode (convolutions and matrix products)."""
    x, y = torch.randn(batch, *image), torch.randint(0, 10, (batch,))
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def peak_bf16_flops(n: int = 2048, repeats: int = 10) -> float:
    """This machine's bf16 matrix-product rate (FLOP/s): the ceiling a bf16 step could reach."""
    a, b = (torch.randn(n, n).bfloat16() for _ in range(2))
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def utilisation(model: nn.Module, img_per_s: float, batch: int = 64) -> str:
    flops = step_flops(model, batch, (3, 32, 32))
    achieved = flops / batch * img_per_s
    peak = peak_bf16_flops()
    return (f"CNN training step: {flops / batch / 1e9:.3f} GFLOP per image (FlopCounterMode); "
            f"reslab at {img_per_s:,.0f} img/s = {achieved / 1e9:,.0f} GFLOP/s; this machine's "
            f"bf16 matrix-product peak {peak / 1e9:,.0f} GFLOP/s (2048^3, same run); "
            f"utilisation {100 * achieved / peak:.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["cnn", "mlp", "both"], default="both")
    parser.add_argument("--steps", type=int, default=20, help="timed CNN steps per turn "
                        "(the MLP's steps are short: it takes 20x as many)")
    parser.add_argument("--rounds", type=int, default=3, help="turns each pipeline takes")
    parser.add_argument("--mlp-depth", type=int, default=10)
    parser.add_argument("--cnn-depth", type=int, default=20)
    parser.add_argument("--cnn-width", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows, notes = [], []
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
        ds = lab_dataset(datasets.CIFAR10, data.train.x, data.train.y,
                         cifar_transforms(mean, std, augment=True))
        aug = build_augment(AugmentConfig(crop_padding=4, flip=True))
        cnn = lambda: CNN(args.cnn_depth, args.cnn_width, True)  # noqa: E731
        speeds = take_turns({
            "lab": lab_style(cnn(), ds, 64),
            "lab_step": lab_style(cnn(), ds, 64, step_only=True),
            "ours": ours(cnn(), data, 64, aug, True, True),
        }, args.steps, args.rounds)
        rows.append(row(f"residual CNN depth {args.cnn_depth} width {args.cnn_width}, batch 64, "
                        "crop+flip", speeds))
        notes.append(utilisation(cnn(), statistics.median(speeds["ours"])))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds, median img/s")
    print("| model | lab-style | lab model step alone | reslab | ratio, median (range) |\n"
          "|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
