"""One training stage's run, end to end: train, test, gradient flow, outputs.

Shared by every training stage (MLP and CNN studies, improved backbone, transfer rungs) so that
all write the same files:
`models/<stage>/<variant>.pt`, `metrics/<stage>/<variant>.json`, `plots/<stage>/<variant>.csv`
(per-epoch history) and `plots/gradflow/<stage>/<variant>.csv`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from reslab.analysis.gradflow import gradient_norms
from reslab.config import TrainConfig
from reslab.data.augment import Augment
from reslab.data.loader import BatchLoader, Prepared
from reslab.track import Tracker, write_metrics, write_table
from reslab.train import checkpoint
from reslab.train.engine import evaluate, fit, resolve_device

RESUME_DIR = Path(".resume")


@dataclass(frozen=True)
class VariantOutputs:
    model: Path
    metrics: Path
    history: Path
    gradflow: Path
    resume: Path

    @classmethod
    def for_variant(cls, stage: str, variant: str | None = None) -> VariantOutputs:
        """`<kind>/<stage>/<variant>.<ext>` for a matrix stage, `<kind>/<stage>.<ext>` else."""
        def path(*parts: str, ext: str) -> Path:
            name = f"{stage}/{variant}" if variant else stage
            return Path(*parts, f"{name}.{ext}")

        return cls(path("models", ext="pt"), path("metrics", ext="json"),
                   path("plots", ext="csv"), path("plots", "gradflow", ext="csv"),
                   path(str(RESUME_DIR), ext="pt"))


def fingerprint(*parts) -> str:
    """A stable hash of everything that defines a run, so resume only continues the same run."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def loaders(data: Prepared, cfg: TrainConfig, device: torch.device,
            augment: Augment | None = None) -> tuple[BatchLoader, BatchLoader, BatchLoader]:
    """Train (shuffled, augmented) and val/test (in order, never augmented) loaders."""
    gen = torch.Generator().manual_seed(cfg.seed)
    common = {"mean": data.mean, "std": data.std, "device": device,
              "channels_last": cfg.channels_last}
    train = BatchLoader(data.train, cfg.batch_size, shuffle=True, generator=gen, augment=augment,
                        **common)
    val = BatchLoader(data.val, cfg.eval_batch_size, **common)
    test = BatchLoader(data.test, cfg.eval_batch_size, **common)
    return train, val, test


def run_variant(stage: str, variant: str | None, model: nn.Module, data: Prepared,
                cfg: TrainConfig, *, run_config: dict, gradflow_batches: int = 0,
                augment: Augment | None = None, saved: nn.Module | None = None) -> dict:
    """Train `model` and write the checkpoint, metrics, history and gradient-flow table.

    `saved` is the model whose weights and `spec` are stored, when `model` is a part of it
    (the linear probe trains the head of a frozen backbone on precomputed features).
    """
    out = VariantOutputs.for_variant(stage, variant)
    name = f"{stage}@{variant}" if variant else stage
    saved = model if saved is None else saved
    device = resolve_device(cfg.device)
    saved.to(device)
    if cfg.channels_last:
        saved.to(memory_format=torch.channels_last)
    train, val, test = loaders(data, cfg, device, augment)
    probe_batches = []
    if gradflow_batches:  # fixed, unaugmented batches of the split already on the device
        probe = BatchLoader(train.split, cfg.batch_size, data.mean, data.std, device=device,
                            channels_last=cfg.channels_last)
        probe_batches = list(itertools.islice(probe, gradflow_batches))
    grads = [{"phase": "init", **r} for r in gradient_norms(model, probe_batches)] \
        if probe_batches else []

    key = fingerprint(name, run_config, saved.spec, len(data.train), len(data.val))
    tracker = Tracker(cfg.wandb, cfg.wandb_project, name, stage, run_config,
                      id_file=out.resume.with_suffix(".wandb.json"), fingerprint=key)
    result = fit(model, train, val, cfg, state_path=out.resume, fingerprint=key, tracker=tracker,
                 desc=name)
    test_metrics = evaluate(model, test, bf16=cfg.bf16)
    if probe_batches:
        grads += [{"phase": "trained", **r} for r in gradient_norms(model, probe_batches)]

    total = sum(p.numel() for p in saved.parameters())
    trainable = sum(p.numel() for p in saved.parameters() if p.requires_grad)
    metrics = {
        "test_acc": round(test_metrics["acc"], 4),
        "test_loss": round(test_metrics["loss"], 6),
        "best_val_acc": round(result.best_val_acc, 4),
        "best_val_loss": round(result.best_val_loss, 6),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "n_params": total,
        "trainable_params": trainable,
        "trainable_fraction": round(trainable / total, 6),
        "train_seconds": round(result.train_seconds, 2),
    }
    checkpoint.save_model(out.model, saved, saved.spec)
    write_table(out.history, result.history)
    if grads:
        write_table(out.gradflow, grads)
    write_metrics(out.metrics, metrics)
    tracker.finish(metrics)
    out.resume.unlink(missing_ok=True)
    print(f"{name}: test acc {metrics['test_acc']:.2f}% "
          f"(best epoch {result.best_epoch}/{result.epochs_run}, {result.train_seconds:.1f}s)")
    return metrics
