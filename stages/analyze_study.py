"""Stage analyze_<study>: figures and a summary across the variants of a depth study.

Writes plots/figures/<study>/gradflow_depth<d>.png, accuracy_vs_depth.png and
metrics/analyze/<study>.json (per depth: accuracies, gap, first-layer gradient ratio at init).
"""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from reslab.cli import run_stage
from reslab.config import CNNStudyConfig, MLPStudyConfig, load_section
from reslab.report.figures import accuracy_figure, gradflow_figure
from reslab.track import read_json, require, write_metrics

STUDIES = {"train_mlp": (MLPStudyConfig, "MLP on MNIST"),
           "train_cnn": (CNNStudyConfig, "CNN on CIFAR-10")}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("study", choices=sorted(STUDIES))
    study = parser.parse_args(argv).study
    cls, label = STUDIES[study]
    cfg = load_section(study, cls)
    figures = Path("plots/figures") / study
    acc: dict[str, dict[int, float]] = {arch: {} for arch in cfg.archs}
    summary = {}
    for depth in cfg.depths:
        tables = {}
        for arch in cfg.archs:
            variant = f"{depth}-{arch}"
            metrics = read_json(Path("metrics", study, f"{variant}.json"))
            acc[arch][depth] = metrics["test_acc"]
            tables[arch] = pd.read_csv(require(Path("plots/gradflow", study, f"{variant}.csv")))
        gradflow_figure(tables, f"{label}, depth {depth}: gradient flow",
                        figures / f"gradflow_depth{depth}.png")
        row = {f"{arch}_test_acc": acc[arch][depth] for arch in cfg.archs}
        if {"plain", "residual"} <= set(tables):
            first = {a: t[(t.phase == "init") & (t.param == "weight") & (t.layer == 0)]
                     .grad_norm.iloc[0] for a, t in tables.items()}
            row["residual_minus_plain"] = round(acc["residual"][depth] - acc["plain"][depth], 4)
            row["init_first_layer_grad_ratio"] = float(f"{first['residual'] / first['plain']:.4g}")
        summary[str(depth)] = row
    accuracy_figure(acc, f"{label}: test accuracy against depth", figures / "accuracy_vs_depth.png")
    write_metrics(Path("metrics/analyze", f"{study}.json"), summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(run_stage(main))
