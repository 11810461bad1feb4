"""Stage analyze_<study>: statistics over seeds, figures and a per-epoch table of a depth study.

Writes metrics/analyze/<study>.json (per depth: test-accuracy spread per arch, the paired
residual - plain gap with its 95% interval, the first layer's gradient ratio at initialisation),
plots/curves/<study>.csv (every variant's per-epoch history, one long table for `dvc plots`) and
under plots/figures/<study>/: accuracy_vs_depth.png, gradflow_depth<d>.png and
gradflow_heatmap_depth<d>.png.
"""

import argparse
import json
import sys

from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import load_params
from reslab.core.files import write_metrics, write_table
from reslab.core.sections import CNNVariants, MLPVariants
from reslab.report.collect import (
    accuracy_statistics,
    first_layer_ratio,
    gradflow_tables,
    study_curves,
    study_metrics,
)
from reslab.report.figures import accuracy_figure, gradflow_figure, gradflow_heatmap

STUDIES = {"train_mlp": ("MLP on MNIST", MLPVariants),
           "train_cnn": ("CNN on CIFAR-10", CNNVariants)}


def parse(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("study", choices=sorted(STUDIES))
    return parser.parse_args(argv).study


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly (the study's
    variants, to find their outputs)."""
    study = parse(argv)
    return {study: STUDIES[study][1]}


def main(argv: list[str]) -> None:
    study = parse(argv)
    label = STUDIES[study][0]
    (cfg,) = load_params(params(argv))
    figures = outputs.figures(study)
    metrics = study_metrics(study, cfg)
    summary = accuracy_statistics(metrics)
    for depth, runs in gradflow_tables(study, cfg).items():
        selected = {arch: {s: m["selected_epoch"] for s, m in metrics[depth][arch].items()}
                    for arch in runs}
        gradflow_figure(runs, selected, f"{label}, depth {depth}: gradient flow",
                        figures / f"gradflow_depth{depth}.png")
        gradflow_heatmap(runs, f"{label}, depth {depth}: gradient flow over training",
                         figures / f"gradflow_heatmap_depth{depth}.png")
        if {"plain", "residual"} <= set(runs):
            summary[str(depth)]["init_first_layer_grad_ratio"] = first_layer_ratio(runs)
    acc = {arch: {d: {s: m["test_acc"] for s, m in metrics[d][arch].items()} for d in metrics}
           for arch in cfg.archs}
    accuracy_figure(acc, f"{label}: test accuracy against depth", figures / "accuracy_vs_depth.png")
    curves = study_curves(study, cfg)
    write_table(outputs.curves(study), curves.to_dict("records"))
    write_metrics(outputs.analysis(study), summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(run_stage(main))
