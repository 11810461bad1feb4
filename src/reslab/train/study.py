"""One training stage's run, end to end: train, test, gradient flow, outputs.

Shared by every training stage (MLP and CNN studies, improved backbone, transfer rungs) so that
all write the same files (`reslab.core.outputs`): the model, its metrics, the per-epoch history
and the per-layer gradient norms. A stage starts its data-parallel workers if asked
(`distributed.launched`), then for each seed calls `train_variant`, then on rank 0
`write_variant` (the linear probe folds the features' standardisation into the head it trained
in between, and saves the whole network). Under DDP every rank trains and evaluates; rank 0
alone writes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import reslab
from reslab.analysis.gradflow import gradient_norms
from reslab.batches.augment import Augment
from reslab.batches.loader import BatchLoader, Prepared, Split, balanced_indices
from reslab.core.config import RuntimeConfig, TrainConfig
from reslab.core.errors import ConfigError
from reslab.core.files import sha256_file, write_metrics, write_table
from reslab.core.live import LIVE
from reslab.core.outputs import VariantOutputs
from reslab.core.timing import phase
from reslab.core.track import Tracker
from reslab.train import checkpoint, distributed, precision
from reslab.train.engine import FitResult, evaluate, fit


def code_digest() -> str:
    """A hash of the reslab package's source and of the running stage script: a resumed run
    never continues under other code."""
    root = Path(reslab.__file__).parent
    files = [(str(p.relative_to(root)), p) for p in sorted(root.rglob("*.py"))]
    script = Path(sys.argv[0])
    if script.suffix == ".py" and script.is_file():
        files.append(("script", script))
    h = hashlib.sha256()
    for name, path in files:
        h.update(name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def fingerprint(*parts, inputs: list[str | Path] = ()) -> str:
    """A stable hash of everything that defines a run (params, model, the content of its input
    files, the code), so resume only ever continues the same run."""
    digests = {str(p): sha256_file(Path(p)) for p in inputs}
    blob = json.dumps([parts, digests, code_digest()], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def loaders(data: Prepared, cfg: TrainConfig, device: torch.device, seed: int,
            augment: Augment | None = None, channels_last: bool = False
            ) -> tuple[BatchLoader, BatchLoader, BatchLoader]:
    """Train (shuffled, augmented) and val/test (in order, never augmented) loaders, sharded
    over the ranks of a DDP run (`batch_size` is the global batch), their batches in the memory
    format `precision.prepare` chose."""
    rank, world = distributed.rank(), distributed.world_size()
    common = {"mean": data.mean, "std": data.std, "device": device,
              "channels_last": channels_last, "rank": rank, "world": world}
    train = BatchLoader(data.train, cfg.batch_size, shuffle=True, seed=seed, augment=augment,
                        **common)
    val = BatchLoader(data.val, cfg.eval_batch_size, **common)
    test = BatchLoader(data.test, cfg.eval_batch_size, **common)
    return train, val, test


def probe_batches(data: Prepared, n_batches: int, batch_size: int, device: torch.device,
                  channels_last: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The fixed gradient-flow batches: a class-balanced sample of the training split drawn with
    the data seed (the same for every run seed and both architectures), never augmented."""
    idx = balanced_indices(data.train.y, n_batches * batch_size, data.seed)
    sample = Split(data.train.x[idx], data.train.y[idx])
    return list(BatchLoader(sample, batch_size, data.mean, data.std, device=device,
                            channels_last=channels_last))


@dataclass(frozen=True)
class Trained:
    """A variant trained and tested on rank 0, for `write_variant`."""

    name: str  # stage@variant
    out: VariantOutputs
    result: FitResult
    test: dict[str, float]
    grads: list[dict]
    run: dict  # what ran (`precision.Precision.record`), for `dvc metrics diff`
    tracker: Tracker


def train_variant(stage: str, variant: str | None, model: nn.Module, data: Prepared,
                  cfg: TrainConfig, *, seed: int, runtime: RuntimeConfig, run_config: dict,
                  inputs: list[str | Path], gradflow_batches: int = 0,
                  augment: Augment | None = None, score_start: bool = False) -> Trained | None:
    """Train `model` (resuming an interrupted run of the same fingerprint) and test it.

    `run_config` is this variant's own configuration (wandb's run config); with it, the content
    of `inputs` (the files the run reads: data, starting checkpoint) and the code, it makes the
    resume fingerprint. `score_start`: the model is a trained network being fine-tuned, whose
    starting weights compete with every epoch's (`fit`). None on ranks other than 0. With
    `cfg.nproc_per_node` > 1 the stage has started its workers first (`distributed.launched`),
    and this runs in each of them.
    """
    if cfg.nproc_per_node > 1 and not distributed.in_world():
        raise RuntimeError(f"{stage}: call distributed.launched before train_variant")
    world = distributed.world_size()
    if cfg.batch_size % world:
        raise ConfigError(f"train.batch_size: {cfg.batch_size} (the global batch) does not "
                          f"divide over {world} processes")
    out = VariantOutputs.for_variant(stage, variant)
    name = f"{stage}@{variant}" if variant else stage
    device = distributed.device_for(runtime.device)
    distributed.init(device)
    main = distributed.is_main()
    model.to(device)
    chosen = precision.prepare(model, cfg, device, name, verbose=main)
    train, val, test = loaders(data, cfg, device, seed, augment, chosen.channels_last)
    with phase("gradflow"):
        probe = probe_batches(data, gradflow_batches, cfg.batch_size, device,
                              chosen.channels_last) if gradflow_batches else []
        grads = [{"epoch": 0, **r} for r in gradient_norms(model, probe)] if probe else []

    def grads_now(net: nn.Module) -> list[dict]:
        return gradient_norms(net, probe)

    key = fingerprint(name, run_config, repr(model), seed, distributed.world_size(), chosen,
                      len(data.train), len(data.val), inputs=inputs)
    tracker = Tracker(runtime.wandb, runtime.wandb_project, name, stage, run_config,
                      id_file=out.resume.with_suffix(".wandb.json"), fingerprint=key) \
        if main else None
    result = fit(model, train, val, cfg, bf16=chosen.bf16, state_path=out.resume,
                 fingerprint=key, live_path=LIVE, tracker=tracker, desc=name,
                 epoch_end=grads_now if probe else None, score_start=score_start,
                 progress=runtime.progress)
    for epoch, rows in enumerate(result.extras, 1):
        grads += [{"epoch": epoch, **r} for r in rows]
    with phase("test"):
        test_metrics = evaluate(model, test, progress=runtime.progress)
    run = chosen.record(device, distributed.world_size())
    if not main:
        return None
    return Trained(name, out, result, test_metrics, grads, run, tracker)


def last_drop(result: FitResult) -> float:
    """How much the validation loss fell in the last epoch (from the start's, or from nothing
    (0) after a single epoch): near 0 or below, the run had converged or was overfitting."""
    losses = [r["val_loss"] for r in result.history]
    if len(losses) == 1:
        losses.insert(0, result.start["loss"] if result.start else losses[0])
    return losses[-2] - losses[-1]


def write_variant(trained: Trained, model: nn.Module) -> dict:
    """Write `model` (the trained network, or the whole one the trained part belongs to) with
    its `spec`, the metrics, history and gradient-flow table; end the wandb run."""
    result, out = trained.result, trained.out
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    metrics = {
        "test_acc": round(trained.test["acc"], 4),
        "test_loss": round(trained.test["loss"], 6),
        "selected_epoch": result.selected_epoch,
        "min_val_loss": round(result.min_val_loss, 6),
        "val_acc_at_min_loss": round(result.val_acc_at_min_loss, 4),
        "max_val_acc": round(result.max_val_acc, 4),
        "epochs_run": result.epochs_run,
        "last_epoch_val_loss_drop": round(last_drop(result), 6),
        "n_params": total,
        "trainable_params": trainable,
        "trainable_fraction": round(trainable / total, 6),
        "train_seconds": round(result.train_seconds, 2),
        "run": trained.run,
    }
    if result.start is not None:
        metrics |= {"start_val_loss": round(result.start["loss"], 6),
                    "start_val_acc": round(result.start["acc"], 4)}
    with phase("write"):
        checkpoint.save_model(out.model, model, model.spec)
        write_table(out.history, result.history)
        if trained.grads:
            write_table(out.gradflow, trained.grads)
        write_metrics(out.metrics, metrics)
    trained.tracker.finish(metrics)
    out.resume.unlink(missing_ok=True)
    print(f"{trained.name}: test acc {metrics['test_acc']:.2f}% (selected epoch "
          f"{result.selected_epoch}/{result.epochs_run}, {result.train_seconds:.1f}s)")
    return metrics
