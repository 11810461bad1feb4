"""Where results go: metrics JSON (numeric leaves), per-epoch history tables, and wandb.

wandb's mode comes from the environment (`WANDB_MODE`, default `offline`); it is never
hard-coded, and only the stage's params are sent as the run config (no environment values).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from reslab.atomic import atomic_path, write_json
from reslab.errors import DataError


def require(path: str | Path) -> Path:
    """An output an earlier stage should have written; a one-line error naming it if missing."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: missing (run `dvc repro` for the stage that writes it)")
    return path


def read_json(path: str | Path) -> dict:
    return json.loads(require(path).read_text())


def _non_numeric(obj, prefix: str = "") -> list[str]:
    if isinstance(obj, dict):
        return [bad for k, v in obj.items() for bad in _non_numeric(v, f"{prefix}{k}.")]
    ok = isinstance(obj, int | float) and not isinstance(obj, bool)
    return [] if ok else [prefix.rstrip(".")]


def write_metrics(path: str | Path, metrics: dict) -> None:
    """Metrics JSON for `dvc metrics`: nested dicts whose leaves are all numbers."""
    bad = _non_numeric(metrics)
    if bad:
        raise TypeError(f"metrics must have numeric leaves; not: {bad}")
    write_json(path, metrics)


def write_table(path: str | Path, rows: list[dict]) -> None:
    """A CSV that `dvc plots` can draw (one row per epoch, or per layer)."""
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g")


class Tracker:
    """A thin wandb run: a no-op when disabled by param or by WANDB_MODE=disabled."""

    def __init__(self, enabled: bool, project: str, name: str, group: str, config: dict):
        self.run = None
        mode = os.environ.get("WANDB_MODE", "offline")
        if not enabled or mode == "disabled":
            return
        import wandb

        self.run = wandb.init(project=project, name=name, group=group, config=config, mode=mode,
                              dir=os.environ.get("WANDB_DIR", "."), reinit="finish_previous")

    def log(self, row: dict) -> None:
        if self.run is not None:
            self.run.log(row)

    def finish(self, summary: dict | None = None) -> None:
        if self.run is not None:
            self.run.summary.update(summary or {})
            self.run.finish()
