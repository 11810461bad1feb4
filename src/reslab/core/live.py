"""A training stage's progress on disk after every epoch, where DVC looks while the stage runs.

`live/metrics.json` is one of dvc.yaml's top-level metrics and plots: `dvc exp show` shows its
`live` numbers for a running experiment (for a queued or temporary one DVC reads the executor's
copy), `dvc plots show` draws its `history`. It is one file, replaced by rename after every epoch,
so a reader never sees half of it and the numbers always match the history. It describes the
stage training now (or the last one that trained); each stage's own metrics and history stay in
`metrics/<stage>/` and `plots/<stage>/`, written when it ends. DVCLive does the same job, but it
rewrites its files in place (a reader can catch one half-written), and importing it and opening
the DVC repository costs every stage more than the epochs of a quick run (bench/README.md, "Live
progress").
"""

from __future__ import annotations

import math
from pathlib import Path

from reslab.core.files import write_json

LIVE = Path("live/metrics.json")


def write_progress(path: Path, stage: str, epochs: int, history: list[dict], best_epoch: int,
                   seconds: float, start: dict | None = None) -> None:
    """The epoch just finished, the best so far (1-based `best_epoch`, 0 if none yet or, when
    the run scored its `start` (validation loss and accuracy), the starting weights: the names
    the stage's final metrics use), training seconds so far, and every epoch's row."""
    last = history[-1]
    live = {"stage": stage, "epoch": last["epoch"], "epochs": epochs,
            "train_loss": round(last["train_loss"], 6), "train_acc": round(last["train_acc"], 4),
            "val_loss": round(last["val_loss"], 6), "val_acc": round(last["val_acc"], 4)}
    if best_epoch > 0:
        best = history[best_epoch - 1]
        live |= {"selected_epoch": best_epoch, "min_val_loss": round(best["val_loss"], 6),
                 "val_acc_at_min_loss": round(best["val_acc"], 4)}
    elif start is not None:
        live |= {"selected_epoch": 0, "min_val_loss": round(start["loss"], 6),
                 "val_acc_at_min_loss": round(start["acc"], 4)}
    live["train_seconds"] = round(seconds, 2)
    # JSON has no NaN: null in the history (every row keeps every column, as `dvc plots`
    # needs), and a number that is not finite left out of the columns `dvc exp show` shows
    rows = [{k: v if math.isfinite(v) else None for k, v in row.items()} for row in history]
    write_json(path, {"live": {k: v for k, v in live.items()
                               if isinstance(v, str) or math.isfinite(v)}, "history": rows})
