"""Matplotlib figures for a depth study: gradient flow per depth, accuracy against depth."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from reslab.atomic import atomic_path

COLORS = {"plain": "tab:red", "residual": "tab:blue"}


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def gradflow_figure(tables: dict[str, pd.DataFrame], title: str, path: Path,
                    param: str = "weight") -> None:
    """Gradient norm by layer (log scale), one line per arch, at initialisation and trained."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, phase in zip(axes, ("init", "trained"), strict=True):
        for arch, df in tables.items():
            sel = df[(df.phase == phase) & (df.param == param)]
            ax.plot(sel.layer, sel.grad_norm.clip(lower=1e-30), marker="o", ms=3,
                    color=COLORS.get(arch), label=arch)
        ax.set_yscale("log")
        ax.set_title(f"{'at initialisation' if phase == 'init' else 'after training'}")
        ax.set_xlabel("layer index (0 = input layer)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f"L2 norm of {param} gradient")
    axes[0].legend()
    fig.suptitle(title)
    _save(fig, path)


def accuracy_figure(acc: dict[str, dict[int, float]], title: str, path: Path) -> None:
    """Test accuracy against depth, one line per arch."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for arch, by_depth in acc.items():
        depths = sorted(by_depth)
        ax.plot(depths, [by_depth[d] for d in depths], marker="o", color=COLORS.get(arch),
                label=arch)
    ax.set_xlabel("depth")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)
