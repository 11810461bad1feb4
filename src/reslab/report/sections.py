"""The report's three parts, each read from the outputs of its stages: the depth studies, the
improved backbone, the transfer (with its figures and the `dvc plots` tables)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reslab.core import outputs
from reslab.core.files import read_json, require, write_table
from reslab.core.ladder import RUNGS
from reslab.report import lab
from reslab.report.collect import study_metrics, transfer_curves, transfer_metrics
from reslab.report.figures import curves_figure, ladder_figure
from reslab.report.results import improved_section, scale, study_section, transfer_section

OUT = outputs.REPORT
LABELS = {"train_mlp": (lab.MLP, "MLP on MNIST"), "train_cnn": (lab.CNN, "CNN on CIFAR-10")}


def manifest(dataset: str) -> dict:
    return read_json(outputs.prepared(dataset, "json"))


def study_part(name: str, cfg) -> tuple[str, dict]:
    """A depth study's section and its statistics (what analyze_<study> wrote)."""
    refs, label = LABELS[name]
    stats = read_json(outputs.analysis(name))
    curves = OUT / "figures" / f"curves_{name}.png"
    curves_figure(pd.read_csv(require(outputs.curves(name))),
                  f"{label}: validation accuracy per epoch (mean over seeds)", curves)
    folder = Path("..", outputs.figures(name))  # relative to the report
    figures = [str(folder / "accuracy_vs_depth.png"),
               *(str(folder / f"gradflow_depth{d}.png") for d in cfg.depths),
               *(str(folder / f"gradflow_heatmap_depth{d}.png") for d in cfg.depths),
               f"figures/{curves.name}"]
    why = lab.comparable(name, manifest(cfg.dataset), cfg.train_subset, cfg.train.epochs,
                         cfg.width)
    recipe = lab.recipe_differs(name, cfg.train, getattr(cfg, "augment", None))
    text = study_section(label, study_metrics(name, cfg), stats, refs,
                         scale(cfg.train_subset, cfg.train.epochs, cfg.width), why, figures,
                         recipe)
    return text, stats


def same_scale(imp, cnn) -> bool:
    """Whether the improved backbone and the CNN study saw the same data for as long, so that
    the study's residual variant of its depth is a fair row beside it."""
    return (imp.dataset, imp.train_subset, imp.width, imp.train.epochs) == (
        cnn.dataset, cnn.train_subset, cnn.width, cnn.train.epochs)


def improved_part(imp, cnn, cnn_stats: dict) -> tuple[str, dict, str | None, str | None]:
    """The backbone's section, its metrics, why it is not at the lab's scale and how its recipe
    differs from the lab's (None: it is, it does not)."""
    lab_recipe = cnn_stats.get(str(imp.depth), {}).get("residual") if same_scale(imp, cnn) \
        else None
    improved = read_json(outputs.VariantOutputs.for_variant("improve_cnn").metrics)
    why = lab.comparable("improve_cnn", manifest(imp.dataset), imp.train_subset,
                         imp.train.epochs, imp.width)
    backbone = lab.recipe_differs("improve_cnn", imp.train, imp.augment)
    text = improved_section(improved, lab_recipe,
                            scale(imp.train_subset, imp.train.epochs, imp.width), why, backbone)
    return text, improved, why, backbone


def transfer_part(tr, why_backbone: str | None, backbone: str | None):
    """The transfer's section (with the ladder figure and the per-rung curves), the SVM's
    metrics, the ladders and the rungs of one optimizer (`collect.transfer_metrics`)."""
    data = manifest(tr.dataset)
    source = f"`{tr.dataset}` from {data['source']}"
    if data.get("source_file"):
        source += f" ({data['source_file']})"
    if data.get("source_note"):
        source += f", **{data['source_note']}**"
    source += f", {data['num_classes']} classes"
    ladders, single = transfer_metrics(tr)
    svm = read_json(outputs.SVM)
    figure = OUT / "figures" / "transfer_ladder.png"
    over = f" (mean ± std over {len(tr.seeds)} seeds)" if len(tr.seeds) > 1 else ""
    rungs_of_one = {f"{RUNGS[stage].name}\n({opt})": m for stage, (opt, m) in single.items()}
    ladder_figure(ladders, rungs_of_one, svm["test_acc"],
                  f"Transfer to {tr.dataset}: test accuracy per rung{over}", figure)
    for stage, table in transfer_curves(tr).items():
        write_table(outputs.TRANSFER_CURVES / f"{stage}.csv", table.to_dict("records"))
    why = lab.comparable("transfer", data, tr.train_subset, tr.finetune.train.epochs)
    if why is None and why_backbone is not None:
        why = f"the backbone is not at the lab's scale ({why_backbone})"
    seeds = f"{len(tr.seeds)} seed{'s' if len(tr.seeds) > 1 else ''}"
    budget = scale(tr.train_subset, tr.finetune.train.epochs) + f" per rung, {seeds}"
    text = transfer_section(svm, ladders, single, budget, why, source, f"figures/{figure.name}",
                            lab.transfer_recipes(tr), backbone)
    return text, svm, ladders, single
