"""The one fit/evaluate loop for every stage: MLP, CNN, linear probe and fine-tuning.

`fit` builds the optimizer, the schedule and the early stopping, maybe resumes, then per epoch
trains, validates, schedules and selects, and on rank 0 prints, logs and checkpoints; finally it
restores the selected weights. Training steps run under bf16 autocast when the caller says so
(`precision.prepare` resolves the recipe's `auto`); validation and test always run in fp32.
Under DDP the training steps go through the wrapped module, and `run_epoch` holds the one
reduction point across ranks.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from reslab.batches.loader import BatchLoader
from reslab.core.config import TrainConfig
from reslab.core.errors import ReslabError
from reslab.core.live import write_progress
from reslab.core.timing import phase
from reslab.train import distributed, precision
from reslab.train.resume import load_resume, save_resume

SLOW_RUN_HOURS = 1.0  # a run estimated to train longer than this says where the quick profile is
ESTIMATE_AFTER_STEPS = 20


def make_optimizer(params: Iterable[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer over the trainable parameters; fused kernels (one call for all tensors)."""
    params = [p for p in params if p.requires_grad]
    common = {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "fused": True}
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, **common)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, **common)
    momentum = cfg.momentum if cfg.optimizer == "sgd_momentum" else 0.0
    return torch.optim.SGD(params, momentum=momentum, **common)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int = 1):
    """`plateau` steps once per epoch on validation loss; `cosine` steps every batch, with an
    optional linear warm-up, down to `min_lr`."""
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience,
            min_lr=cfg.min_lr)
    if cfg.scheduler == "cosine":
        total = max(1, cfg.epochs * steps_per_epoch)
        warmup = round(cfg.warmup_epochs * steps_per_epoch)
        floor = min(1.0, cfg.min_lr / cfg.lr)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return None


class Schedule:
    """The recipe's learning-rate schedule behind two hooks, so that `fit` calls both and never
    asks which kind it is: `cosine` steps after every batch, `plateau` after every epoch on the
    validation loss, `none` never."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
        self.kind = cfg.scheduler
        self.scheduler = make_scheduler(optimizer, cfg, steps_per_epoch)

    def after_batch(self) -> None:
        if self.kind == "cosine":
            self.scheduler.step()

    def after_epoch(self, val_loss: float) -> None:
        if self.kind == "plateau":
            self.scheduler.step(val_loss)

    def state_dict(self) -> dict:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)


@dataclass
class EarlyStopping:
    """Keep a real copy of the weights of the lowest validation loss, and count patience.

    `min_delta` counts patience only: an epoch that improves on the last real improvement by no
    more than `min_delta` is a bad epoch, but if its loss is the lowest so far its weights are
    kept, so the selected epoch is always the true minimum. A fine-tuning run scores its
    starting weights first as epoch -1, so that it can end no worse than it started."""

    patience: int  # 0: never stop early, but still remember the best weights
    min_delta: float
    best_loss: float = float("inf")  # the lowest so far: its weights are kept
    best_epoch: int | None = None  # 0-based; -1: the starting weights; None: none yet
    bad_epochs: int = 0
    best_state: dict = field(default_factory=dict)
    improved_loss: float = float("inf")  # the loss at the last improvement by more than min_delta

    def update(self, val_loss: float, epoch: int, model: nn.Module) -> None:
        """Record this epoch's validation loss (0-based `epoch`, -1 for the start)."""
        if val_loss < self.improved_loss - self.min_delta:
            self.improved_loss, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = val_loss, epoch
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs, "best_state": self.best_state,
                "improved_loss": self.improved_loss}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on `device` when asked, else a no-op context."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def run_epoch(model: nn.Module, loader: BatchLoader, loss_fn: nn.Module,
              optimizer: torch.optim.Optimizer | None = None, *, bf16: bool = False,
              on_step: Iterable[Callable[[], None]] = (), desc: str = "",
              progress: bool = True) -> dict[str, float]:
    """One pass over `loader`: trains when given an optimizer (bf16 autocast if asked, calling
    each of `on_step` after every optimizer step), else evaluates in fp32. Returns mean loss and
    accuracy (percent) over all samples of all ranks. Nothing in the loop waits for the device
    (but the duration check, which synchronises once)."""
    training = optimizer is not None
    model.train(training)
    device = loader.device
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    grad_mode = contextlib.nullcontext() if training else torch.inference_mode()
    show = progress and distributed.is_main()
    with grad_mode:
        for x, y in tqdm(loader, desc=desc, leave=False, disable=None if show else True):
            with autocast(device, bf16 and training):
                logits = model(x)
                loss = loss_fn(logits.float(), y)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                for hook in on_step:
                    hook()
            totals[0] += loss.detach().double() * len(y)
            totals[1] += (logits.argmax(1) == y).sum()
            totals[2] += len(y)
    loss_sum, correct, count = distributed.all_reduce_sum(totals).tolist()  # the one reduction
    return {"loss": loss_sum / count, "acc": 100.0 * correct / count}


def evaluate(model: nn.Module, loader: BatchLoader, progress: bool = True) -> dict[str, float]:
    """Loss and accuracy in IEEE fp32 (whatever precision the model trained in, TF32 off on a
    GPU), with rank 0's BatchNorm statistics on every rank."""
    distributed.broadcast_buffers(model)
    with precision.ieee_fp32():
        return run_epoch(model, loader, nn.CrossEntropyLoss(), progress=progress)


def duration_check(desc: str, epochs: int, steps_per_epoch: int, device: torch.device):
    """An `on_step` hook: after the run's first steps, one line if it will take hours here."""
    start, steps = time.perf_counter(), 0

    def on_step() -> None:
        nonlocal steps
        steps += 1
        if steps != ESTIMATE_AFTER_STEPS or not distributed.is_main():
            return
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        total = (time.perf_counter() - start) / steps * steps_per_epoch * epochs
        if total > SLOW_RUN_HOURS * 3600:
            print(f"{desc}: about {total / 3600:.1f} h of training at this scale on {device}. "
                  "For a laptop CPU, the README's 'Quick profile' runs the whole study at reduced "
                  "scale: reslab-profile quick", flush=True)

    return on_step


def selected(stopper: EarlyStopping) -> int:
    """The 1-based epoch whose weights are kept so far: 0 for the starting weights or none."""
    return 0 if stopper.best_epoch is None else stopper.best_epoch + 1


@dataclass
class FitResult:
    history: list[dict]
    selected_epoch: int  # 1-based: the epoch of lowest validation loss, whose weights are kept
    # (0: the starting weights, when they were scored and no epoch beat them)
    start: dict | None  # the starting weights' validation loss and accuracy, when scored
    min_val_loss: float
    val_acc_at_min_loss: float
    max_val_acc: float
    epochs_run: int
    train_seconds: float
    extras: list  # `epoch_end`'s value after every epoch
    epoch_seconds: list  # training time of each epoch (not saved)


def fit(model: nn.Module, train: BatchLoader, val: BatchLoader, cfg: TrainConfig, *,
        bf16: bool = False, state_path: str | Path | None = None, fingerprint: str = "",
        live_path: Path | None = None, tracker=None, desc: str = "train", epoch_end=None,
        score_start: bool = False, progress: bool = True) -> FitResult:
    """Train `model` (its parameters with requires_grad) on `train`, select on `val`.

    `bf16`: training steps under bf16 autocast (what `precision.prepare` chose). With
    `state_path`, the full training state is checkpointed after every epoch (by rank 0); a later
    call with the same `fingerprint` resumes after the last finished epoch and ends exactly where
    an uninterrupted run would (a checkpoint that cannot be read is reported and ignored). With
    `live_path`, rank 0 writes the progress so far there after every epoch (after its
    checkpoint) and on resuming (`reslab.core.live`). `tracker.log(row)` gets every new epoch's
    row. `epoch_end(model)`, if given, runs on every rank after every epoch; rank 0's values are
    kept (and resumed) in `extras`. With `score_start` (fine-tuning from a trained network) the
    starting weights are validated first and compete with every epoch's. The
    lowest-validation-loss weights are loaded into `model` at the end.
    """
    net = distributed.wrap(model, train.device, cfg.sync_batchnorm)
    optimizer = make_optimizer(model.parameters(), cfg)
    schedule = Schedule(optimizer, cfg, len(train))
    stopper = EarlyStopping(cfg.early_stop_patience, cfg.early_stop_min_delta)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    main = distributed.is_main()
    state_path = Path(state_path) if state_path else None
    history, extras, seconds, start = load_resume(state_path, fingerprint, desc, model,
                                                  optimizer, schedule, stopper, train)
    if history and live_path and main:  # resumed: the live file shows where the run stands
        write_progress(live_path, desc, cfg.epochs, history, selected(stopper), seconds, start)
    if score_start and start is None:  # the starting weights compete with every epoch's
        with phase("val"):
            start = evaluate(model, val, progress=progress)
        stopper.update(start["loss"], -1, model)
    on_step = [schedule.after_batch, duration_check(desc, cfg.epochs, len(train), train.device)]
    epoch_seconds = []
    # a resumed run that had already stopped early trains no further
    for epoch in range(len(history), len(history) if stopper.should_stop else cfg.epochs):
        began = time.perf_counter()
        with phase("train"):
            tr = run_epoch(net, train, loss_fn, optimizer, bf16=bf16, on_step=on_step,
                           desc=f"{desc} {epoch + 1}/{cfg.epochs}", progress=progress)
        epoch_seconds.append(time.perf_counter() - began)
        seconds += epoch_seconds[-1]
        with phase("val"):
            va = evaluate(model, val, progress=progress)
        history.append({"epoch": epoch + 1, "train_loss": tr["loss"], "train_acc": tr["acc"],
                        "val_loss": va["loss"], "val_acc": va["acc"],
                        "lr": optimizer.param_groups[0]["lr"]})
        schedule.after_epoch(va["loss"])
        stopper.update(va["loss"], epoch, model)
        loader_states = distributed.gather(train.state_dict()) if state_path else None
        if epoch_end is not None:  # on every rank: SyncBatchNorm in it waits for all of them
            with phase("gradflow"):
                extras.append(epoch_end(model))
        if main:  # rank 0 alone prints, logs and writes
            print(f"{desc} epoch {epoch + 1}/{cfg.epochs}: train loss {tr['loss']:.4f} "
                  f"acc {tr['acc']:.2f} | val loss {va['loss']:.4f} acc {va['acc']:.2f}",
                  flush=True)
            if tracker is not None:
                tracker.log(history[-1])
            with phase("write"):
                if state_path:
                    save_resume(state_path, fingerprint, model, optimizer, schedule, stopper,
                                loader_states, history, extras, seconds, start)
                if live_path:
                    write_progress(live_path, desc, cfg.epochs, history, selected(stopper),
                                   seconds, start)
        if stopper.should_stop:
            break
    if stopper.best_epoch is None:
        raise ReslabError(f"{desc}: the validation loss was never finite (diverged); "
                          "lower the learning rate")
    model.load_state_dict(stopper.best_state)
    best_acc = start["acc"] if stopper.best_epoch < 0 else history[stopper.best_epoch]["val_acc"]
    return FitResult(history=history, selected_epoch=selected(stopper), start=start,
                     min_val_loss=stopper.best_loss, val_acc_at_min_loss=best_acc,
                     max_val_acc=max(r["val_acc"] for r in history), epochs_run=len(history),
                     train_seconds=seconds, extras=extras, epoch_seconds=epoch_seconds)
