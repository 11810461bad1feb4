"""Resuming an interrupted `fit`: the whole training state after every epoch, and back.

Rank 0 reads and writes `.resume/<stage>/<variant>.pt`; every rank gets the same state. A state
is used only when its fingerprint is this run's, so a resumed run ends exactly where an
uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from reslab.batches.loader import BatchLoader
from reslab.core.errors import CheckpointError
from reslab.train import checkpoint, distributed

if TYPE_CHECKING:
    from reslab.train.engine import EarlyStopping


def load_resume(state_path: Path | None, fingerprint: str, desc: str, model: nn.Module,
                optimizer, scheduler, stopper: EarlyStopping,
                train: BatchLoader) -> tuple[list[dict], list, float, dict | None]:
    """Restore the saved training state of this run (same `fingerprint`; read by rank 0, sent
    to every rank) into the objects given; its history, extras, seconds so far and the start's
    score, or nothing when there is none, or it is another run's or unreadable (said in a
    line)."""
    state = None
    if state_path and distributed.is_main() and state_path.exists():
        try:
            state = checkpoint.load(state_path)
        except CheckpointError as e:
            print(f"{desc}: starting afresh, the saved training state is unusable ({e})",
                  flush=True)
        state = state if state and state.get("fingerprint") == fingerprint else None
    state = distributed.broadcast(state)
    if state is None:
        return [], [], 0.0, None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    stopper.load_state_dict(state["stopper"])
    train.load_state_dict(state["loader"][distributed.rank()])
    if distributed.is_main():
        print(f"{desc}: resuming after epoch {len(state['history'])}", flush=True)
    return state["history"], state["extras"], state["seconds"], state["start"]


def save_resume(state_path: Path, fingerprint: str, model: nn.Module, optimizer, scheduler,
                stopper: EarlyStopping, loader_states: list, history: list, extras: list,
                seconds: float, start: dict | None) -> None:
    """Everything `fit` needs to go on after this epoch exactly as if never stopped."""
    checkpoint.save(state_path, {
        "fingerprint": fingerprint, "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "stopper": stopper.state_dict(), "loader": loader_states,
        "history": history, "extras": extras, "seconds": seconds, "start": start})
