"""The report's three parts, each read from the outputs of its stages: the depth studies, the
improved backbone, the transfer (with its figures and the `dvc plots` tables)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reslab.core import outputs
from reslab.core.files import read_json, require, write_table
from reslab.core.ladder import RUNGS
from reslab.report import lab
from reslab.report.collect import (
    improved_curves,
    improved_metrics,
    paired,
    study_metrics,
    transfer_curves,
    transfer_metrics,
)
from reslab.report.figures import curves_figure, ladder_figure
from reslab.report.results import (
    improved_section,
    scale,
    study_section,
    test_images,
    transfer_section,
)

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
    data = manifest(cfg.dataset)
    why = lab.comparable(name, data, cfg.train_subset, cfg.train.epochs, cfg.width)
    augment = getattr(cfg, "augment", None)
    recipe = lab.recipe_differs(name, cfg.train, augment and augment.for_data(data))
    text = study_section(label, study_metrics(name, cfg), stats, refs,
                         scale(cfg.train_subset, cfg.train.epochs, cfg.width, data), why,
                         figures, recipe)
    return text, stats


def same_scale(imp, cnn) -> bool:
    """Whether the improved backbone and the CNN study saw the same data for as long, so that
    the study's residual variant of its depth is a fair row beside it."""
    return (imp.dataset, imp.train_subset, imp.width, imp.train.epochs) == (
        cnn.dataset, cnn.train_subset, cnn.width, cnn.train.epochs)


def improved_part(imp, cnn, cnn_stats: dict) -> tuple[str, dict, dict | None, str | None,
                                                     str | None]:
    """The backbone's section, its metrics over seeds, its difference from the CNN study's
    residual CNN of its depth paired by seed (None: not at the same scale), why it is not at
    the lab's scale and how its recipe differs from the lab's (None: it is, it does not)."""
    improved = improved_metrics(imp)
    write_table(outputs.curves("improve_cnn"), improved_curves(imp).to_dict("records"))
    lab_recipe = gap = None
    if same_scale(imp, cnn) and "residual" in cnn_stats.get(str(imp.depth), {}):
        lab_recipe = cnn_stats[str(imp.depth)]["residual"]
        runs = study_metrics("train_cnn", cnn)[imp.depth]["residual"]
        gap = paired({"by_seed": {s: m["test_acc"] for s, m in runs.items()}}, improved)
    data = manifest(imp.dataset)
    why = lab.comparable("improve_cnn", data, imp.train_subset, imp.train.epochs, imp.width)
    backbone = lab.recipe_differs("improve_cnn", imp.train, imp.augment.for_data(data))
    study = lab.recipe_differs("train_cnn", cnn.train, cnn.augment.for_data(manifest(cnn.dataset)))
    text = improved_section(improved, lab_recipe, gap, scale(
        imp.train_subset, imp.train.epochs, imp.width, data), why, backbone, study)
    return text, improved, gap, why, backbone


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
    if data.get("flip_changes_label"):
        source += "; horizontal flips are off (they change its classes)"
    real = lab.real_dataset(data, lab.SCALE["transfer"][0])
    ladders, single = transfer_metrics(tr)
    svm = read_json(outputs.SVM)
    figure = OUT / "figures" / "transfer_ladder.png"
    over = f" (mean ± std over {len(tr.seeds)} seeds)" if len(tr.seeds) > 1 else ""
    rungs_of_one = {f"{RUNGS[stage].name}\n({opt})": m for stage, (opt, m) in single.items()}
    note = data.get("source_note") or f"{data['num_classes']} classes"
    target = tr.dataset if real else f"a STAND-IN for {tr.dataset}\n({note})"
    ladder_figure(ladders, rungs_of_one, svm["test_acc"],
                  f"Transfer to {target}: test accuracy per rung{over}", figure)
    for stage, table in transfer_curves(tr).items():
        write_table(outputs.TRANSFER_CURVES / f"{stage}.csv", table.to_dict("records"))
    why = lab.comparable("transfer", data, tr.train_subset, tr.finetune.train.epochs)
    if why is None and why_backbone is not None:
        why = f"the backbone is not at the lab's scale ({why_backbone})"
    seeds = f"{len(tr.seeds)} seed{'s' if len(tr.seeds) > 1 else ''}"
    budget = (scale(tr.train_subset, tr.finetune.train.epochs) + f" per rung, {seeds}; "
              + test_images(data))
    text = transfer_section(svm, ladders, single, budget, why, source, f"figures/{figure.name}",
                            lab.transfer_recipes(tr, data), backbone, real)
    return text, svm, ladders, single
