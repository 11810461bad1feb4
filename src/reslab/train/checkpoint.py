"""Checkpoints: atomic saves, `weights_only` loads, and checks that a checkpoint fits its model."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from reslab.core.errors import CheckpointError
from reslab.core.files import atomic_path


def save(path: str | Path, obj: dict) -> None:
    """torch.save under a temporary name, renamed into place once complete."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load(path: str | Path) -> dict:
    """Load tensors and plain containers only: a pickle that would run code is refused."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint (not a torch archive)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        detail = [ln.strip() for ln in str(e).splitlines() if "GLOBAL" in ln.upper()]
        why = detail[0].rstrip(".") if detail else "not only tensors and plain containers"
        raise CheckpointError(f"{path}: refused to load, it could run code ({why})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a reslab checkpoint")
    return obj


def save_model(path: str | Path, model: nn.Module, meta: dict) -> None:
    """A final model: its weights plus what is needed to rebuild it (architecture, classes)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save(path, {"state_dict": state, "meta": meta})


def load_model(path: str | Path, model: nn.Module, expect: dict | None = None) -> dict:
    """Load weights into `model` once the metadata keys in `expect` match; return the meta."""
    ckpt = load(path)
    if "state_dict" not in ckpt or "meta" not in ckpt:
        raise CheckpointError(f"{path}: not a reslab model checkpoint")
    meta = ckpt["meta"]
    for key, want in (expect or {}).items():
        if meta.get(key) != want:
            raise CheckpointError(
                f"{path}: checkpoint has {key}={meta.get(key)!r}, expected {want!r}")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the model ({str(e).splitlines()[0]})") \
            from None
    return meta
