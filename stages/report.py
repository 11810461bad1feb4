"""Stage report: reports/results.md and its figures, from every metrics file of the study."""

import sys
from pathlib import Path

import pandas as pd

from reslab.atomic import write_text
from reslab.cli import run_stage
from reslab.config import (
    CNNStudyConfig,
    ImproveConfig,
    MLPStudyConfig,
    TransferConfig,
    load_section,
)
from reslab.report import lab
from reslab.report.figures import curves_figure, ladder_figure
from reslab.report.results import HEADER, improved_section, scale, study_section, transfer_section
from reslab.track import read_json, require

OUT = Path("reports")


def study(name: str, cfg) -> tuple[dict, dict]:
    """Metrics and per-epoch histories of a depth study, keyed by depth and variant."""
    metrics, histories = {}, {}
    for depth in cfg.depths:
        for arch in cfg.archs:
            metrics.setdefault(depth, {})[arch] = read_json(f"metrics/{name}/{depth}-{arch}.json")
            histories[f"{depth}-{arch}"] = pd.read_csv(require(f"plots/{name}/{depth}-{arch}.csv"))
    return metrics, histories


def main(argv: list[str]) -> None:
    mlp_cfg = load_section("train_mlp", MLPStudyConfig)
    cnn_cfg = load_section("train_cnn", CNNStudyConfig)
    imp_cfg = load_section("improve_cnn", ImproveConfig)
    tr_cfg = load_section("transfer", TransferConfig)
    sections = [HEADER]
    studies = {}
    for name, cfg, refs, label in (("train_mlp", mlp_cfg, lab.MLP, "MLP on MNIST"),
                                   ("train_cnn", cnn_cfg, lab.CNN, "CNN on CIFAR-10")):
        studies[name], histories = study(name, cfg)
        curves = OUT / "figures" / f"curves_{name}.png"
        curves_figure(histories, f"{label}: validation accuracy per epoch", curves)
        figures = [f"../plots/figures/{name}/accuracy_vs_depth.png",
                   *(f"../plots/figures/{name}/gradflow_depth{d}.png" for d in cfg.depths),
                   f"figures/{curves.name}"]
        note = scale(cfg.train_subset, cfg.train.epochs, cfg.width)
        sections.append(study_section(label, studies[name], refs, note, figures))

    lab_recipe = studies["train_cnn"].get(imp_cfg.depth, {}).get("residual")
    same_scale = (imp_cfg.width, imp_cfg.train_subset) == (cnn_cfg.width, cnn_cfg.train_subset)
    sections.append(improved_section(
        read_json("metrics/improve_cnn.json"), lab_recipe if same_scale else None,
        scale(imp_cfg.train_subset, imp_cfg.train.epochs, imp_cfg.width)))

    manifest = read_json(f"data/prepared/{tr_cfg.dataset}.json")
    source = f"`{tr_cfg.dataset}` from {manifest['source']}"
    if manifest.get("source_file"):
        source += f" ({manifest['source_file']})"
    if manifest.get("source_note"):
        source += f", **{manifest['source_note']}**"
    source += f", {manifest['num_classes']} classes"
    ladders = {opt: {rung: read_json(f"metrics/{rung}/{opt}.json")
                     for rung in ("linear_probe", "finetune_ft0", "finetune_ft1", "finetune_ft2")}
               for opt in tr_cfg.optimizers}
    svm = read_json("metrics/svm_baseline.json")
    aug = read_json("metrics/finetune_ft2_aug.json")
    ladder_png = OUT / "figures" / "transfer_ladder.png"
    extras = {"SVM": svm["test_acc"], f"FT2+aug ({tr_cfg.ft2_aug_optimizer})": aug["test_acc"]}
    ladder_figure({o: {r: m["test_acc"] for r, m in rungs.items()} for o, rungs in ladders.items()},
                  extras, f"Transfer to {tr_cfg.dataset}: test accuracy per rung", ladder_png)
    sections.append(transfer_section(
        svm, ladders, aug, tr_cfg.ft2_aug_optimizer,
        scale(tr_cfg.train_subset, tr_cfg.finetune.train.epochs) + " (fine-tuning rungs)",
        source, f"figures/{ladder_png.name}"))
    write_text(OUT / "results.md", "\n".join(sections))
    print(f"report: {OUT / 'results.md'}")


if __name__ == "__main__":
    sys.exit(run_stage(main))
