"""Matplotlib figures for the study: spread over seeds, gradient flow over training, the ladder."""

from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reslab.core.files import atomic_path
from reslab.core.ladder import LADDER

COLORS = {"plain": "tab:red", "residual": "tab:blue"}
WEIGHT_LAYERS = ("Linear", "Conv2d")


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def weight_layers(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the weight gradients of Linear/Conv layers, shortcut projections left out,
    numbered 0 (input layer) upwards in `depth_index`."""
    sel = df[(df.param == "weight") & df.type.isin(WEIGHT_LAYERS)
             & ~df.module.str.contains("shortcut")].copy()
    order = {m: i for i, m in enumerate(dict.fromkeys(sel.module))}
    sel["depth_index"] = sel.module.map(order)
    return sel


def log_norms(runs: dict[int, pd.DataFrame], epochs: dict[int, int]) -> np.ndarray:
    """log10 weight-gradient norm per layer (rows) and seed (columns), each seed's run taken at
    `epochs[seed]`."""
    cols = []
    for seed, df in sorted(runs.items()):
        sel = weight_layers(df)
        cols.append(np.log10(sel[sel.epoch == epochs[seed]].grad_norm.clip(lower=1e-30)).values)
    return np.stack(cols, axis=1)


def gradflow_figure(runs: dict[str, dict[int, pd.DataFrame]], selected: dict[str, dict[int, int]],
                    title: str, path: Path) -> None:
    """Weight-gradient norm of each layer (log scale) at initialisation and at the selected
    epoch: per arch the geometric mean over seeds, with the min-max band of the seeds."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, phase in zip(axes, ("init", "selected"), strict=True):
        for arch, by_seed in runs.items():
            epochs = {s: 0 for s in by_seed} if phase == "init" else selected[arch]
            logs = log_norms(by_seed, epochs)
            x = range(len(logs))
            ax.plot(x, 10 ** logs.mean(1), marker="o", ms=3, color=COLORS.get(arch),
                    label=f"{arch} (n={logs.shape[1]})")
            if logs.shape[1] > 1:
                ax.fill_between(x, 10 ** logs.min(1), 10 ** logs.max(1), alpha=0.2,
                                color=COLORS.get(arch))
        ax.set_yscale("log")
        ax.set_title("at initialisation" if phase == "init" else "after training (selected epoch)")
        ax.set_xlabel("weight layer (0 = input layer)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("L2 norm of weight gradient")
    axes[0].legend()
    fig.suptitle(title + " (line: geometric mean over seeds; band: min-max)")
    _save(fig, path)


def gradflow_heatmap(runs: dict[str, dict[int, pd.DataFrame]], title: str, path: Path) -> None:
    """log10 weight-gradient norm, layer x epoch (0 = initialisation), mean over seeds, over the
    epochs every seed ran; plain beside residual on one colour scale."""
    grids = {}
    for arch, by_seed in runs.items():
        last = min(int(df.epoch.max()) for df in by_seed.values())
        grids[arch] = np.stack([log_norms(by_seed, {s: e for s in by_seed}).mean(1)
                                for e in range(last + 1)], axis=1)
    lo = min(g.min() for g in grids.values())
    hi = max(g.max() for g in grids.values())
    fig, axes = plt.subplots(1, len(grids), figsize=(5.5 * len(grids), 4.5), squeeze=False)
    for ax, (arch, grid) in zip(axes[0], grids.items(), strict=True):
        im = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis", vmin=lo, vmax=hi,
                       interpolation="nearest")
        ax.set_title(arch)
        ax.set_xlabel("epoch (0 = initialisation)")
        ax.set_ylabel("weight layer (0 = input layer)")
    fig.colorbar(im, ax=axes[0].tolist(), label="log10 L2 norm of weight gradient")
    fig.suptitle(title)
    _save(fig, path)


def accuracy_figure(acc: dict[str, dict[int, dict[int, float]]], title: str, path: Path) -> None:
    """Test accuracy against depth: every seed's run as a dot, the mean as a line, +-1 std."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for arch, by_depth in acc.items():
        depths = sorted(by_depth)
        for d in depths:
            ax.scatter([d] * len(by_depth[d]), list(by_depth[d].values()), s=14, alpha=0.6,
                       color=COLORS.get(arch))
        means = [statistics.fmean(by_depth[d].values()) for d in depths]
        stds = [statistics.stdev(by_depth[d].values()) if len(by_depth[d]) > 1 else 0.0
                for d in depths]
        n = max(len(v) for v in by_depth.values())
        ax.errorbar(depths, means, yerr=stds, marker="o", capsize=3, color=COLORS.get(arch),
                    label=f"{arch} (mean of {n} seed{'s' if n > 1 else ''})")
    ax.set_xlabel("depth")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def curves_figure(curves: pd.DataFrame, title: str, path: Path) -> None:
    """Validation accuracy per epoch, mean over seeds; plain dashed, residual solid."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    depths = sorted(curves.depth.unique())
    palette = dict(zip(depths, plt.cm.viridis([i / max(1, len(depths) - 1) * 0.85
                                               for i in range(len(depths))]), strict=True))
    for (depth, arch), df in curves.groupby(["depth", "arch"]):
        mean = df.groupby("epoch").val_acc.mean()
        ax.plot(mean.index, mean.values, ls="--" if arch == "plain" else "-", marker=".",
                color=palette[depth], label=f"depth {depth} {arch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    _save(fig, path)


def ladder_figure(ladders: dict[str, dict[str, dict]], single: dict[str, dict],
                  svm: float, title: str, path: Path) -> None:
    """Test accuracy of each rung (`collect.over_seeds`: the mean, with the std over seeds as an
    error bar when there are several), grouped by optimizer; the single-optimizer rungs (FT2+aug,
    the full fine-tune) as rungs of their own; the SVM baseline as a line."""
    def bars(runs: list[dict]) -> tuple[list[float], list[float] | None]:
        errors = [m["test"].get("std", 0.0) for m in runs]
        return [m["test_acc"] for m in runs], errors if any(errors) else None

    fig, ax = plt.subplots(figsize=(8.5, 4))
    width = 0.8 / max(1, len(ladders))
    for i, (opt, rungs) in enumerate(ladders.items()):
        xs = [r + (i - (len(ladders) - 1) / 2) * width for r in range(len(LADDER))]
        heights, errors = bars([rungs[r.stage] for r in LADDER])
        ax.bar(xs, heights, width, yerr=errors, capsize=2, label=opt)
    extra = range(len(LADDER), len(LADDER) + len(single))
    heights, errors = bars(list(single.values()))
    ax.bar(extra, heights, 0.8 / 2, yerr=errors, capsize=2, color="grey")
    ax.axhline(svm, ls="--", color="black", lw=1, label=f"SVM on features ({svm:.1f})")
    ax.set_xticks([*range(len(LADDER)), *extra], [*(r.label for r in LADDER), *single])
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)
