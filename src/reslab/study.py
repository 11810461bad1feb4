"""One variant of a depth study, end to end: train, test, gradient flow, outputs.

Shared by the MLP and CNN studies so that both write the same files:
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
    def for_variant(cls, stage: str, variant: str) -> VariantOutputs:
        return cls(Path("models", stage, f"{variant}.pt"),
                   Path("metrics", stage, f"{variant}.json"),
                   Path("plots", stage, f"{variant}.csv"),
                   Path("plots", "gradflow", stage, f"{variant}.csv"),
                   RESUME_DIR / stage / f"{variant}.pt")


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


def run_variant(stage: str, variant: str, model: nn.Module, data: Prepared, cfg: TrainConfig, *,
                meta: dict, run_config: dict, gradflow_batches: int,
                augment: Augment | None = None) -> dict:
    """Train one variant and write its checkpoint, metrics, history and gradient-flow table."""
    out = VariantOutputs.for_variant(stage, variant)
    device = resolve_device(cfg.device)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    train, val, test = loaders(data, cfg, device, augment)
    probe = BatchLoader(data.train, cfg.batch_size, data.mean, data.std, device=device,
                        channels_last=cfg.channels_last)
    probe_batches = list(itertools.islice(probe, gradflow_batches))
    grads = [{"phase": "init", **r} for r in gradient_norms(model, probe_batches)]

    tracker = Tracker(cfg.wandb, cfg.wandb_project, f"{stage}@{variant}", stage, run_config)
    key = fingerprint(stage, variant, run_config, meta, len(data.train), len(data.val))
    result = fit(model, train, val, cfg, state_path=out.resume, fingerprint=key, tracker=tracker,
                 desc=f"{stage}@{variant}")
    test_metrics = evaluate(model, test, bf16=cfg.bf16)
    grads += [{"phase": "trained", **r} for r in gradient_norms(model, probe_batches)]

    metrics = {
        "test_acc": round(test_metrics["acc"], 4),
        "test_loss": round(test_metrics["loss"], 6),
        "best_val_acc": round(result.best_val_acc, 4),
        "best_val_loss": round(result.best_val_loss, 6),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "n_params": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(result.train_seconds, 2),
    }
    checkpoint.save_model(out.model, model, meta)
    write_table(out.history, result.history)
    write_table(out.gradflow, grads)
    write_metrics(out.metrics, metrics)
    tracker.finish(metrics)
    out.resume.unlink(missing_ok=True)
    print(f"{stage}@{variant}: test acc {metrics['test_acc']:.2f}% "
          f"(best epoch {result.best_epoch}/{result.epochs_run}, {result.train_seconds:.1f}s)")
    return metrics

