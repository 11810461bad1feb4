"""Training throughput: our engine against a lab-style pipeline, same model and batch size.

Lab-style = torchvision dataset of PIL images + per-sample transforms + DataLoader, fp32, NCHW
(what the original notebook did). Ours = uint8 tensors on the device, batched augmentation,
and for the CNN bf16 autocast and channels_last as `auto` chooses them on this CPU (the
`train_cnn` defaults; `--bf16` / `--channels-last` force them). A third column
times the lab's model step alone (fp32, NCHW, one batch kept in memory, no input pipeline):
the part of the lab's step that data handling cannot speed up.

The pipelines take turns, `--rounds` times, so that a slow spell of a shared machine hits them
alike; each ratio is ours / lab-style within one round, and the table shows their median. For
the CNN it also prints the FLOP rate our step achieves (FLOPs counted by torch's
FlopCounterMode) against this machine's matrix-product peak in the precision it ran (bf16 or
fp32), measured in the same run.

    python bench/throughput.py                 # both models, prints a table and the ratios
    python bench/throughput.py --model cnn --rounds 5
    python bench/throughput.py --model cnn --bf16 false --channels-last false   # fp32 NCHW
    python bench/throughput.py --model cnn --cnn-width 16 --eval-batches 128,1000

Needs `data/prepared/{mnist,cifar10}.npz` (`dvc repro prepare_data@mnist prepare_data@cifar10`).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import torch
from labstyle import CPU, cifar_transforms, lab_dataset, lab_style, synchronize
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision import datasets, transforms

from reslab.batches.augment import build_augment
from reslab.batches.loader import BatchLoader, Prepared, Split, load_prepared
from reslab.core.config import AugmentConfig, TrainConfig, load
from reslab.core.sections import CNNStudyConfig
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP
from reslab.report import lab
from reslab.train import precision
from reslab.train.engine import evaluate, make_optimizer, run_epoch

WARMUP_STEPS = 3
PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"
CROP_FLIP = AugmentConfig(**lab.AUGMENT["improve_cnn"])  # the lab's crop + flip, no jitter


def recipe(**changes) -> TrainConfig:
    """The CNN study's recipe in params.yaml (the lab's: Adam, lr 1e-3), with `changes`."""
    return dataclasses.replace(load("train_cnn", CNNStudyConfig, PARAMS).train, **changes)


def ours(model: nn.Module, data: Prepared, batch_size: int, augment, bf16="auto",
         channels_last="auto", device: torch.device = CPU, chosen: list | None = None):
    """The engine's own epoch loop (`run_epoch`) over `n_steps` batches of the training split,
    the images kept on `device` (where `model` already is); bf16 and channels_last as a recipe
    says them (`auto`: the stages' default), the choice appended to `chosen`."""
    cfg = recipe(bf16=bf16, channels_last=channels_last)
    choice = precision.prepare(model, cfg, device)
    bf16, channels_last = choice.bf16, choice.channels_last
    if chosen is not None:
        chosen.append(choice)
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


def peak_flops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    """This machine's matrix-product rate (FLOP/s) in `dtype`: the ceiling of a step in it."""
    a, b = (torch.randn(n, n).to(dtype) for _ in range(2))
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def utilisation(model: nn.Module, img_per_s: float, bf16: bool, batch: int = 64) -> str:
    flops = step_flops(model, batch, (3, 32, 32))
    achieved = flops / batch * img_per_s
    dtype = "bf16" if bf16 else "fp32"
    peak = peak_flops(torch.bfloat16 if bf16 else torch.float32)
    return (f"CNN training step: {flops / batch / 1e9:.3f} GFLOP per image (FlopCounterMode); "
            f"reslab at {img_per_s:,.0f} img/s = {achieved / 1e9:,.0f} GFLOP/s; this machine's "
            f"{dtype} matrix-product peak {peak / 1e9:,.0f} GFLOP/s (2048^3, same run); "
            f"utilisation {100 * achieved / peak:.0f}%")


def eval_speed(model: nn.Module, data: Prepared, batch_sizes: list[int], n: int = 2000) -> str:
    """Images/s of the engine's fp32 `evaluate` over `n` test images, per batch size, in the
    memory format `auto` chooses: on a CPU the largest batches overflow the caches."""
    choice = precision.prepare(model, recipe(bf16=False, channels_last="auto"), CPU)
    part = Split(data.test.x[:n], data.test.y[:n])
    speeds = []
    for bs in batch_sizes:
        loader = BatchLoader(part, bs, data.mean, data.std, channels_last=choice.channels_last)
        evaluate(model, loader, progress=False)  # warm-up
        start = time.perf_counter()
        evaluate(model, loader, progress=False)
        speeds.append(f"{bs}: {n / (time.perf_counter() - start):,.0f}")
    return (f"fp32 evaluation, {'channels_last' if choice.channels_last else 'NCHW'}, "
            f"img/s by batch size: " + ", ".join(speeds))


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
    toggle = {"auto": "auto", "true": True, "false": False}
    parser.add_argument("--bf16", choices=toggle, default="auto", help="ours, CNN (params: auto)")
    parser.add_argument("--channels-last", choices=toggle, default="auto",
                        help="ours, CNN (params: auto)")
    parser.add_argument("--eval-batches", type=lambda v: [int(b) for b in v.split(",")],
                        help="also time fp32 evaluation of the CNN at these batch sizes, "
                             "e.g. 128,1000")
    args = parser.parse_args()
    print(precision.describe_cpu(), flush=True)
    torch.manual_seed(0)
    rows, notes = [], []
    if args.model in ("mlp", "both"):
        data = load_prepared("data/prepared/mnist.npz")
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
        ds = lab_dataset(datasets.MNIST, data.train.x, data.train.y, tf)
        mlp = lambda: MLP(depth=args.mlp_depth, width=32, residual=False,  # noqa: E731
                          num_classes=10, in_shape=(28, 28, 1))
        speeds = take_turns({
            "lab": lab_style(mlp(), ds, 256),
            "lab_step": lab_style(mlp(), ds, 256, step_only=True),
            "ours": ours(mlp(), data, 256, None, False, False),
        }, args.steps * 20, args.rounds)
        rows.append(row(f"MLP depth {args.mlp_depth}, batch 256", speeds))
    if args.model in ("cnn", "both"):
        data = load_prepared("data/prepared/cifar10.npz")
        mean, std = data.mean.tolist(), data.std.tolist()
        ds = lab_dataset(datasets.CIFAR10, data.train.x, data.train.y,
                         cifar_transforms(mean, std, augment=True))
        aug = build_augment(CROP_FLIP)
        cnn = lambda: CNN(depth=args.cnn_depth, width=args.cnn_width, residual=True,  # noqa: E731
                          num_classes=10, in_channels=3)
        chosen = []
        speeds = take_turns({
            "lab": lab_style(cnn(), ds, 64),
            "lab_step": lab_style(cnn(), ds, 64, step_only=True),
            "ours": ours(cnn(), data, 64, aug, toggle[args.bf16], toggle[args.channels_last],
                         chosen=chosen),
        }, args.steps, args.rounds)
        (choice,) = chosen
        rows.append(row(f"residual CNN depth {args.cnn_depth} width {args.cnn_width}, batch 64, "
                        f"crop+flip; ours {'bf16' if choice.bf16 else 'fp32'} "
                        f"{'channels_last' if choice.channels_last else 'NCHW'}", speeds))
        notes.append(utilisation(cnn(), statistics.median(speeds["ours"]), choice.bf16))
        if args.eval_batches:
            notes.append(eval_speed(cnn(), data, args.eval_batches))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds, median img/s")
    print("| model | lab-style | lab model step alone | reslab | ratio, median (range) |\n"
          "|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
