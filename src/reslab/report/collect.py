"""Read a depth study's outputs (every depth x arch x seed variant) and the transfer's (every
rung x optimizer x seed) into tables and statistics."""

from __future__ import annotations

import statistics
from itertools import product

import pandas as pd

from reslab.core.files import read_json, require
from reslab.core.ladder import LADDER, SINGLE, Rung
from reslab.core.outputs import VariantOutputs
from reslab.report.stats import describe, mean_interval, paired_difference


def variants(cfg) -> list[tuple[int, str, int]]:
    """(depth, arch, seed) of every variant the study's params define, in stage order."""
    return list(product(cfg.depths, cfg.archs, cfg.seeds))


def outputs(study: str, depth: int, arch: str, seed: int) -> VariantOutputs:
    return VariantOutputs.for_variant(study, f"{depth}-{arch}/{seed}")


def study_metrics(study: str, cfg) -> dict[int, dict[str, dict[int, dict]]]:
    """depth -> arch -> seed -> that variant's metrics."""
    out: dict = {}
    for depth, arch, seed in variants(cfg):
        metrics = read_json(outputs(study, depth, arch, seed).metrics)
        out.setdefault(depth, {}).setdefault(arch, {})[seed] = metrics
    return out


def study_curves(study: str, cfg) -> pd.DataFrame:
    """Every variant's per-epoch history in one long table (a `variant` column names it)."""
    frames = []
    for depth, arch, seed in variants(cfg):
        variant = f"{depth}-{arch}-{seed}"
        df = pd.read_csv(require(outputs(study, depth, arch, seed).history))
        frames.append(df.assign(variant=variant, depth=depth, arch=arch, seed=seed))
    return pd.concat(frames, ignore_index=True)


def gradflow_tables(study: str, cfg) -> dict[int, dict[str, dict[int, pd.DataFrame]]]:
    """depth -> arch -> seed -> the variant's gradient-flow table."""
    out: dict = {}
    for depth, arch, seed in variants(cfg):
        df = pd.read_csv(require(outputs(study, depth, arch, seed).gradflow))
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


MEANS = ("test_acc", "val_acc_at_min_loss", "last_epoch_val_loss_drop")


def over_seeds(runs: dict[int, dict]) -> dict:
    """One row's metrics over its seeds (seed -> metrics): the mean of each accuracy (what the
    tables, the figure and the choice of the best optimizer use) and of the last epoch's fall
    in validation loss, the trainable fraction, how many seeds kept their starting weights
    (`kept_start`), each seed's test accuracy (`by_seed`, for differences paired by seed), and
    under `test` the spread of the test accuracy with its 95% interval."""
    first = next(iter(runs.values()))
    mean = {k: round(statistics.fmean(m[k] for m in runs.values()), 4)
            for k in MEANS if k in first}
    tests = [m["test_acc"] for m in runs.values()]
    return mean | {"trainable_fraction": first["trainable_fraction"],
                   "kept_start": sum(m.get("selected_epoch") == 0 for m in runs.values()),
                   "by_seed": {s: m["test_acc"] for s, m in runs.items()},
                   "test": _rounded(describe(tests) | mean_interval(tests))}


def improved_metrics(imp) -> dict:
    """The improved backbone over `improve_cnn.seeds` (`over_seeds`)."""
    return over_seeds({s: read_json(VariantOutputs.for_variant("improve_cnn", str(s)).metrics)
                       for s in imp.seeds})


def improved_curves(imp) -> pd.DataFrame:
    """Every improve_cnn seed's per-epoch history, a `variant` column naming the seed."""
    return pd.concat([pd.read_csv(require(VariantOutputs.for_variant(
        "improve_cnn", str(s)).history)).assign(variant=str(s)) for s in imp.seeds])


def paired(a: dict, b: dict) -> dict:
    """`b - a` of two rows' test accuracies, paired by seed (`stats.paired_difference`)."""
    return _rounded(paired_difference(a["by_seed"], b["by_seed"]))


def single_optimizer(tr, rung: Rung) -> str:
    """The optimizer of a rung of one optimizer: its own section's `train.optimizer`."""
    return getattr(tr, rung.name).train.optimizer


def transfer_metrics(tr) -> tuple[dict, dict]:
    """The ladders (optimizer -> rung stage -> `over_seeds`) and the rungs of one optimizer
    (rung stage -> (optimizer, `over_seeds`)), read from every seed's metrics file. `tr`: the
    TransferConfig."""
    def rows(rung: Rung, opt: str) -> dict:
        return over_seeds({s: read_json(rung.outputs(opt, s).metrics) for s in tr.seeds})

    ladders = {opt: {r.stage: rows(r, opt) for r in LADDER} for opt in tr.optimizers}
    ones = {r.stage: (single_optimizer(tr, r), rows(r, single_optimizer(tr, r))) for r in SINGLE}
    return ladders, ones


def transfer_curves(tr) -> dict[str, pd.DataFrame]:
    """Per ladder rung, every variant's per-epoch history in one long table, a `variant` column
    naming its optimizer and seed; FT2's also holds the rungs of one optimizer, named
    `<rung>-<seed> (<optimizer>)`."""
    def history(rung: Rung, opt: str, seed: int, name: str) -> pd.DataFrame:
        return pd.read_csv(require(rung.outputs(opt, seed).history)).assign(variant=name)

    tables = {r.stage: [history(r, opt, s, f"{opt}-{s}") for opt in tr.optimizers
                        for s in tr.seeds] for r in LADDER}
    tables[LADDER[-1].stage] += [history(r, opt, s, f"{r.name}-{s} ({opt})") for r in SINGLE
                                 for opt in [single_optimizer(tr, r)] for s in tr.seeds]
    return {stage: pd.concat(frames) for stage, frames in tables.items()}
