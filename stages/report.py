"""Stage report: reports/results.md with its figures, the transfer curves for `dvc plots`, and
metrics/summary.json, the study's headline numbers under one `summary` key: one of dvc.yaml's
top-level metrics, so that `dvc exp show` is one readable row per experiment."""

import sys
from pathlib import Path

import pandas as pd

from reslab.core.atomic import write_text
from reslab.core.cli import run_stage
from reslab.core.config import (
    SINGLE_RUNGS,
    CNNStudyConfig,
    ImproveConfig,
    MLPStudyConfig,
    TransferConfig,
    load_section,
)
from reslab.core.track import read_json, require, write_metrics, write_table
from reslab.report import lab
from reslab.report.collect import study_metrics, transfer_metrics
from reslab.report.figures import LADDER, curves_figure, ladder_figure
from reslab.report.results import (
    HEADER,
    improved_section,
    scale,
    study_section,
    transfer_section,
)

OUT = Path("reports")


def transfer_curves(ladders: list[str], seeds: list[int], single: dict[str, str]) -> None:
    """plots/curves/transfer/<rung>.csv: one long table per rung, a line per optimizer and seed
    (FT2's also holds FT2+aug and the full fine-tune)."""
    for rung in LADDER:
        frames = [pd.read_csv(require(f"plots/{rung}/{opt}-{s}.csv")).assign(variant=f"{opt}-{s}")
                  for opt in ladders for s in seeds]
        if rung == "finetune_ft2":
            frames += [pd.read_csv(require(f"plots/{stage}/{s}.csv")).assign(
                variant=f"{name}-{s} ({opt})") for stage, (name, opt) in single.items()
                for s in seeds]
        write_table(Path("plots/curves/transfer") / f"{rung}.csv",
                    pd.concat(frames).to_dict("records"))


def same_scale(imp: ImproveConfig, cnn: CNNStudyConfig) -> bool:
    """Whether the improved backbone and the CNN study saw the same data for as long, so that
    the study's residual variant of its depth is a fair row beside it."""
    return (imp.dataset, imp.train_subset, imp.width, imp.train.epochs) == (
        cnn.dataset, cnn.train_subset, cnn.width, cnn.train.epochs)


def gap_summary(study: str, stats: dict) -> dict:
    """`<study>_gap`: residual - plain per depth; with more than one seed also its 95% interval
    (`<study>_gap_ci95_low`/`_high`), so that `dvc exp show` says which gaps exclude zero."""
    gaps = {d: s["residual_minus_plain"] for d, s in stats.items() if "residual_minus_plain" in s}
    out = {f"{study}_gap": {d: g["mean"] for d, g in gaps.items()}}
    for end in ("low", "high"):
        bound = {d: g[f"ci95_{end}"] for d, g in gaps.items() if f"ci95_{end}" in g}
        if bound:
            out[f"{study}_gap_ci95_{end}"] = bound
    return out


def headline(stats: dict[str, dict], improved: dict, svm: dict, ladders: dict[str, dict],
             single: dict[str, tuple[str, dict]]) -> dict:
    """metrics/summary.json's `summary`: the numbers `dvc exp show` shows for every experiment.
    `stats`: study -> its analysis; `ladders`: optimizer -> rung -> metrics; `single`: stage ->
    (optimizer, metrics) for FT2+aug and the full fine-tune."""
    summary = {}
    for study, s in stats.items():
        summary |= gap_summary(study.removeprefix("train_"), s)
    best = {rung: best_run([rungs[rung] for rungs in ladders.values()]) for rung in LADDER}
    rows = {"probe_best": best["linear_probe"], "ft0_best": best["finetune_ft0"],
            "ft1_best": best["finetune_ft1"], "ft2_best": best["finetune_ft2"],
            "ft2_aug": single["finetune_ft2_aug"][1], "full": single["finetune_full"][1]}
    summary |= {"improve_cnn": improved["test_acc"], "svm": svm["test_acc"]} | {
        k: m["test_acc"] for k, m in rows.items()}
    for key in ("std", "ci95_low", "ci95_high"):  # more than one transfer seed: the spread
        found = {k: m["test"][key] for k, m in rows.items() if key in m.get("test", {})}
        if found:
            summary[f"transfer_{key}"] = found
    return summary


def best_run(runs: list[dict]) -> dict:
    """The run with the highest validation accuracy (over seeds, the mean): the optimizer is
    chosen on the validation split, as the SVM's C is, never on the test split it is scored on."""
    return max(runs, key=lambda m: m["val_acc_at_min_loss"])



def main(argv: list[str]) -> None:
    cfgs = {"train_mlp": load_section("train_mlp", MLPStudyConfig),
            "train_cnn": load_section("train_cnn", CNNStudyConfig)}
    imp = load_section("improve_cnn", ImproveConfig)
    tr = load_section("transfer", TransferConfig)
    manifests = {name: read_json(f"data/prepared/{name}.json")
                 for name in {c.dataset for c in cfgs.values()} | {imp.dataset, tr.dataset}}
    sections, stats = [HEADER], {}
    for name, refs, label in (("train_mlp", lab.MLP, "MLP on MNIST"),
                              ("train_cnn", lab.CNN, "CNN on CIFAR-10")):
        cfg = cfgs[name]
        metrics = study_metrics(name, cfg)
        stats[name] = read_json(f"metrics/analyze/{name}.json")  # what analyze_<study> wrote
        curves = OUT / "figures" / f"curves_{name}.png"
        curves_figure(pd.read_csv(require(f"plots/curves/{name}.csv")),
                      f"{label}: validation accuracy per epoch (mean over seeds)", curves)
        figures = [f"../plots/figures/{name}/accuracy_vs_depth.png",
                   *(f"../plots/figures/{name}/gradflow_depth{d}.png" for d in cfg.depths),
                   *(f"../plots/figures/{name}/gradflow_heatmap_depth{d}.png"
                     for d in cfg.depths), f"figures/{curves.name}"]
        why = lab.comparable(name, manifests[cfg.dataset], cfg.train_subset, cfg.train.epochs,
                             cfg.width)
        recipe = lab.recipe_differs(name, cfg.train, getattr(cfg, "augment", None))
        sections.append(study_section(label, metrics, stats[name], refs,
                                      scale(cfg.train_subset, cfg.train.epochs, cfg.width), why,
                                      figures, recipe))

    cnn = cfgs["train_cnn"]
    lab_recipe = stats["train_cnn"].get(str(imp.depth), {}).get("residual") \
        if same_scale(imp, cnn) else None
    improved = read_json("metrics/improve_cnn.json")
    why_imp = lab.comparable("improve_cnn", manifests[imp.dataset], imp.train_subset,
                             imp.train.epochs, imp.width)
    backbone = lab.recipe_differs("improve_cnn", imp.train, imp.augment)
    sections.append(improved_section(improved, lab_recipe,
                                     scale(imp.train_subset, imp.train.epochs, imp.width), why_imp,
                                     backbone))

    manifest = manifests[tr.dataset]
    source = f"`{tr.dataset}` from {manifest['source']}"
    if manifest.get("source_file"):
        source += f" ({manifest['source_file']})"
    if manifest.get("source_note"):
        source += f", **{manifest['source_note']}**"
    source += f", {manifest['num_classes']} classes"
    ladders, single = transfer_metrics(tr, list(LADDER), SINGLE_RUNGS)
    svm = read_json("metrics/svm_baseline.json")
    ladder_png = OUT / "figures" / "transfer_ladder.png"
    rungs_of_one = {f"{SINGLE_RUNGS[stage]}\n({opt})": m for stage, (opt, m) in single.items()}
    over = f" (mean ± std over {len(tr.seeds)} seeds)" if len(tr.seeds) > 1 else ""
    ladder_figure(ladders, rungs_of_one, svm["test_acc"],
                  f"Transfer to {tr.dataset}: test accuracy per rung{over}", ladder_png)
    transfer_curves(tr.optimizers, tr.seeds,
                    {s: (SINGLE_RUNGS[s], opt) for s, (opt, _) in single.items()})
    why_tr = lab.comparable("transfer", manifest, tr.train_subset, tr.finetune.train.epochs)
    if why_tr is None and why_imp is not None:
        why_tr = f"the backbone is not at the lab's scale ({why_imp})"
    sections.append(transfer_section(
        svm, ladders, single, scale(tr.train_subset, tr.finetune.train.epochs)
        + f" per rung, {len(tr.seeds)} seed{'s' if len(tr.seeds) > 1 else ''}",
        why_tr, source, f"figures/{ladder_png.name}", lab.transfer_recipes(tr), backbone))

    write_metrics("metrics/summary.json", {"summary": headline(stats, improved, svm, ladders,
                                                               single)})
    write_text(OUT / "results.md", "\n".join(sections))
    print(f"report: {OUT / 'results.md'}, metrics/summary.json")


if __name__ == "__main__":
    sys.exit(run_stage(main))
