"""A prepared GPU check: one command, one JSON line.

1. Throughput on CUDA, residual CNN depth 20 width 32, batch 64: the lab-style pipeline
   (torchvision dataset of PIL images, per-sample crop and flip, a DataLoader with worker
   processes, fp32) against ours (uint8 images on the GPU, batched augmentation, bf16 and
   channels_last, fused Adam); then our best images/s over larger batches.
2. `improve_cnn` at the lab's scale (all 45,000 training images, width 32, the epochs of
   params.yaml's recipe) through the library: test accuracy and wall time.
3. The full lab MLP study (6 variants x 20 epochs, 55,000 images) through the library: wall
   time, on the MNIST zip that --mnist names, else on random MNIST-shaped data (a timing
   only).

It needs the CIFAR-10 zip of the offline mirror in gpu_data/ (git-ignored) and the library;
it imports neither DVC nor wandb and writes nothing outside a temporary folder. How long it
takes on a GPU is not measured yet (no GPU has run it): it trains the lab's sizes, one improved
CNN for the recipe's epochs and six MLPs of 20. `--tiny` runs every part at toy size on a
CPU in under a minute (tests/test_bench.py):

    mkdir -p gpu_data && cp ../shared/datasets/cifar10.zip gpu_data/
    PYTHONPATH=src python bench/gpu_check.py --cifar10 gpu_data/cifar10.zip
    python bench/gpu_check.py --tiny
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from labstyle import cifar_transforms, lab_dataset, lab_style
from throughput import CROP_FLIP, WARMUP_STEPS, ours
from torchvision import datasets

from reslab.batches.augment import build_augment
from reslab.batches.loader import Prepared, load_prepared
from reslab.core.config import load
from reslab.core.sections import ImproveConfig, MLPStudyConfig
from reslab.datasets.imagefolder import RawDataset, read_imagefolder_zip
from reslab.datasets.prepare import prepare
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP
from reslab.train import precision
from reslab.train.engine import evaluate, fit
from reslab.train.study import loaders

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def resnet20(width: int) -> CNN:
    return CNN(depth=20, width=width, residual=True, num_classes=10, in_channels=3)


def prepared(name: str, raw: RawDataset, val_size: int, tmp: Path) -> Prepared:
    """What prepare_data writes and the stages read: the seeded split, the train split's stats."""
    prepare(name, raw, val_size, 0, tmp)
    return load_prepared(tmp / f"{name}.npz")


def lab_throughput(data: Prepared, device, width: int, steps: int, workers: int) -> float:
    """The lab's loop on the device: PIL dataset + DataLoader workers, fp32 NCHW, Adam."""
    torch.manual_seed(0)
    ds = lab_dataset(datasets.CIFAR10, data.train.x, data.train.y,
                     cifar_transforms(data.mean.tolist(), data.std.tolist(), augment=True))
    run = lab_style(resnet20(width).to(device), ds, 64, device=device,
                    num_workers=workers)
    run(WARMUP_STEPS)
    return run(steps)


def our_throughput(data: Prepared, device, width: int, steps: int, batch: int) -> float:
    """The engine's own epoch loop (`run_epoch`) over `steps` batches, bf16 and channels_last
    as `auto` chooses them on this device."""
    torch.manual_seed(0)
    aug = build_augment(CROP_FLIP)
    run = ours(resnet20(width).to(device), data, batch, aug, device=device)
    run(WARMUP_STEPS)
    return run(steps)


def improve_cnn(data: Prepared, device, cfg: ImproveConfig) -> dict:
    """The transfer backbone at the recipe's scale, through the engine, as the stage trains it."""
    start = time.perf_counter()
    torch.manual_seed(cfg.seeds[0])
    model = CNN(depth=cfg.depth, width=cfg.width, residual=True, num_classes=data.num_classes,
                in_channels=3).to(device)
    chosen = precision.prepare(model, cfg.train, device, "improve_cnn")
    train, val, test = loaders(data, cfg.train, device, cfg.seeds[0], build_augment(cfg.augment),
                               chosen.channels_last)
    result = fit(model, train, val, cfg.train, bf16=chosen.bf16, desc="improve_cnn",
                 progress=False)
    test_metrics = evaluate(model, test)
    return {"test_acc": round(test_metrics["acc"], 2), "epochs": result.epochs_run,
            "train_images": len(data.train), "width": cfg.width,
            "train_seconds": round(result.train_seconds, 1),
            "wall_s": round(time.perf_counter() - start, 1)}


def mlp_study(data: Prepared, device, cfg: MLPStudyConfig) -> dict:
    """Every variant of the MLP study (depths x archs, seed 0) through the engine."""
    start, accs = time.perf_counter(), {}
    for depth in cfg.depths:
        for arch in cfg.archs:
            torch.manual_seed(0)
            model = MLP(depth=depth, width=cfg.width, residual=arch == "residual",
                        num_classes=data.num_classes, in_shape=data.image_shape).to(device)
            chosen = precision.prepare(model, cfg.train, device, verbose=False)
            train, val, test = loaders(data, cfg.train, device, 0, None, chosen.channels_last)
            fit(model, train, val, cfg.train, bf16=chosen.bf16, desc=f"mlp {depth}-{arch}",
                progress=False)
            accs[f"{depth}-{arch}"] = round(evaluate(model, test)["acc"], 2)
    return {"wall_s": round(time.perf_counter() - start, 1), "test_acc": accs,
            "epochs": cfg.train.epochs, "train_images": len(data.train)}


def random_mnist(n_train: int, n_test: int) -> RawDataset:
    """MNIST-shaped random digits: the same work per step as MNIST, for timing only."""
    rng = np.random.default_rng(0)
    return RawDataset(rng.integers(0, 256, (n_train, 28, 28, 1), dtype=np.uint8),
                      rng.integers(0, 10, n_train).astype(np.int64),
                      rng.integers(0, 256, (n_test, 28, 28, 1), dtype=np.uint8),
                      rng.integers(0, 10, n_test).astype(np.int64), [str(i) for i in range(10)])


def tiny_inputs(tmp: Path):
    """Toy archives and recipes: every part runs, on CPU, in well under a minute."""
    from reslab.datasets.standin import make_imagefolder_zip

    zip_path = make_imagefolder_zip(tmp / "cifar10.zip", classes=10, n_train=30, n_test=10,
                                    size=32, mode="RGB")
    imp = load("improve_cnn", ImproveConfig, PARAMS)
    imp = dataclasses.replace(imp, depth=9, width=8, train=dataclasses.replace(
        imp.train, epochs=1, batch_size=32))
    mlp = load("train_mlp", MLPStudyConfig, PARAMS)
    mlp = dataclasses.replace(mlp, depths=[2, 4], width=8,
                              train=dataclasses.replace(mlp.train, epochs=1))
    return zip_path, imp, mlp, random_mnist(600, 100), 50


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar10", type=Path, default=Path("gpu_data/cifar10.zip"))
    parser.add_argument("--mnist", type=Path, help="an MNIST ImageFolder zip (else random data)")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per pipeline")
    parser.add_argument("--workers", type=int, default=8, help="the lab's DataLoader workers")
    parser.add_argument("--tiny", action="store_true", help="toy sizes on CPU (a smoke test)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            zip_path, imp, mlp, mnist, val = tiny_inputs(Path(tmp))
            device, steps, workers, batches, width = torch.device("cpu"), 3, 0, [64, 128], 4
        else:
            if not torch.cuda.is_available():
                parser.error("no CUDA device: this check is for a GPU (--tiny runs on CPU)")
            zip_path, val = args.cifar10, 5000
            imp = load("improve_cnn", ImproveConfig, PARAMS)
            mlp = load("train_mlp", MLPStudyConfig, PARAMS)
            mnist = read_imagefolder_zip(args.mnist) if args.mnist else random_mnist(60000, 10000)
            device = torch.device("cuda")
            steps, workers, batches, width = args.steps, args.workers, [64, 256, 512, 1024], 32
        cifar = prepared("cifar10", read_imagefolder_zip(zip_path), val, Path(tmp))
        mnist = prepared("mnist", mnist, val, Path(tmp))
    lab = lab_throughput(cifar, device, width, steps, workers)
    speeds = {b: our_throughput(cifar, device, width, steps, b) for b in batches}
    best = max(speeds, key=speeds.get)
    out = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "throughput": {"lab_img_s": round(lab), "ours_img_s": round(speeds[64]),
                       "ratio": round(speeds[64] / lab, 2), "lab_workers": workers,
                       "ours_best_img_s": round(speeds[best]), "ours_best_batch": best,
                       "ours_img_s_by_batch": {str(b): round(v) for b, v in speeds.items()}},
        "improve_cnn": improve_cnn(cifar, device, imp),
        "mlp_study": {**mlp_study(mnist, device, mlp),
                      "data": "mnist" if args.mnist else "random, MNIST-shaped (timing only)"},
    }
    out["total_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
