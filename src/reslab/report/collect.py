"""Read a depth study's outputs (every depth x arch x seed variant) into tables and statistics."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pandas as pd

from reslab.core.track import read_json, require
from reslab.report.stats import describe, paired_difference


def variants(cfg) -> list[tuple[int, str, int]]:
    """(depth, arch, seed) of every variant the study's params define, in stage order."""
    return list(product(cfg.depths, cfg.archs, cfg.seeds))


def study_metrics(study: str, cfg) -> dict[int, dict[str, dict[int, dict]]]:
    """depth -> arch -> seed -> that variant's metrics."""
    out: dict = {}
    for depth, arch, seed in variants(cfg):
        metrics = read_json(Path("metrics", study, f"{depth}-{arch}-{seed}.json"))
        out.setdefault(depth, {}).setdefault(arch, {})[seed] = metrics
    return out


def study_curves(study: str, cfg) -> pd.DataFrame:
    """Every variant's per-epoch history in one long table (a `variant` column names it)."""
    frames = []
    for depth, arch, seed in variants(cfg):
        variant = f"{depth}-{arch}-{seed}"
        df = pd.read_csv(require(Path("plots", study, f"{variant}.csv")))
        frames.append(df.assign(variant=variant, depth=depth, arch=arch, seed=seed))
    return pd.concat(frames, ignore_index=True)


def gradflow_tables(study: str, cfg) -> dict[int, dict[str, dict[int, pd.DataFrame]]]:
    """depth -> arch -> seed -> the variant's gradient-flow table."""
    out: dict = {}
    for depth, arch, seed in variants(cfg):
        df = pd.read_csv(require(Path("plots/gradflow", study, f"{depth}-{arch}-{seed}.csv")))
        out.setdefault(depth, {}).setdefault(arch, {})[seed] = df
    return out


def _rounded(d: dict) -> dict:
    return {k: v if isinstance(v, int) else round(float(v), 4) for k, v in d.items()}


def accuracy_statistics(metrics: dict[int, dict[str, dict[int, dict]]]) -> dict:
    """Per depth: each arch's test-accuracy spread over seeds and, with both archs, the paired
    residual - plain difference with its 95% interval (numeric leaves, for `dvc metrics`)."""
    out = {}
    for depth, by_arch in metrics.items():
        acc = {arch: {s: m["test_acc"] for s, m in runs.items()} for arch, runs in by_arch.items()}
        row = {arch: _rounded(describe(list(a.values()))) for arch, a in acc.items()}
        if {"plain", "residual"} <= set(acc):
            row["residual_minus_plain"] = _rounded(paired_difference(acc["plain"],
                                                                     acc["residual"]))
        out[str(depth)] = row
    return out


def first_layer_ratio(runs: dict) -> float:
    """Mean first-layer weight-gradient norm at initialisation, residual over plain."""
    def first(by_seed):
        norms = [df[(df.epoch == 0) & (df.param == "weight") & (df.layer == 0)].grad_norm.iloc[0]
                 for df in by_seed.values()]
        return sum(norms) / len(norms)

    return float(f"{first(runs['residual']) / first(runs['plain']):.4g}")
