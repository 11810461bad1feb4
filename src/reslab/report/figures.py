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


WEIGHT_LAYERS = ("Linear", "Conv2d")


def gradflow_figure(tables: dict[str, pd.DataFrame], title: str, path: Path) -> None:
    """Weight-gradient norm of each Linear/Conv layer (log scale), one line per arch, at
    initialisation and after training. Shortcut projections are left out of the x axis."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, phase in zip(axes, ("init", "trained"), strict=True):
        for arch, df in tables.items():
            sel = df[(df.phase == phase) & (df.param == "weight") & df.type.isin(WEIGHT_LAYERS)
                     & ~df.module.str.contains("shortcut")]
            ax.plot(range(len(sel)), sel.grad_norm.clip(lower=1e-30), marker="o", ms=3,
                    color=COLORS.get(arch), label=arch)
        ax.set_yscale("log")
        ax.set_title(f"{'at initialisation' if phase == 'init' else 'after training'}")
        ax.set_xlabel("weight layer (0 = input layer)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("L2 norm of weight gradient")
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


def curves_figure(histories: dict[str, pd.DataFrame], title: str, path: Path) -> None:
    """Validation accuracy per epoch; plain variants dashed, residual solid, one colour a depth."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    depths = sorted({name.split("-")[0] for name in histories}, key=int)
    palette = dict(zip(depths, plt.cm.viridis([i / max(1, len(depths) - 1) * 0.85
                                               for i in range(len(depths))]), strict=True))
    for name, df in sorted(histories.items()):
        depth, arch = name.split("-")
        ax.plot(df.epoch, df.val_acc, ls="--" if arch == "plain" else "-", marker=".",
                color=palette[depth], label=f"depth {depth} {arch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    _save(fig, path)


def ladder_figure(ladders: dict[str, dict[str, float]], extras: dict[str, float], title: str,
                  path: Path) -> None:
    """Test accuracy of each rung, grouped by optimizer; `extras` (SVM, FT2+aug) as lines."""
    rungs = ["linear_probe", "finetune_ft0", "finetune_ft1", "finetune_ft2"]
    labels = ["LP", "FT0", "FT1", "FT2"]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    width = 0.8 / max(1, len(ladders))
    for i, (opt, accs) in enumerate(ladders.items()):
        xs = [r + (i - (len(ladders) - 1) / 2) * width for r in range(len(rungs))]
        ax.bar(xs, [accs.get(r, 0.0) for r in rungs], width, label=opt)
    for (name, value), style in zip(extras.items(), ["--", ":", "-."], strict=False):
        ax.axhline(value, ls=style, color="black", lw=1, label=f"{name} ({value:.1f})")
    ax.set_xticks(range(len(rungs)), labels)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)
