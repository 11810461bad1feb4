"""`reports/results.md`: our numbers, their spread over seeds, and the lab's where comparable."""

from __future__ import annotations

import statistics

from reslab.core.ladder import LADDER, RUNGS
from reslab.report import lab


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def versus(ours: dict[str, float], ref: tuple | None, comparable: bool,
           recipe: str | None = None) -> list[str]:
    """[lab number (split), ours − lab on the lab's split]: `ours` holds our "test" and "val"
    accuracy, and a lab validation number is compared with our validation accuracy, test with
    test. The difference only at the lab's scale; with another recipe it says so."""
    if ref is None:
        return ["—", "—"]
    value, split = ref[:2]
    if not comparable or ours.get(split) is None:
        return [f"{value:.2f} ({split})", "—"]
    diff = f"{ours[split] - value:+.2f} ({split} − {split})"
    return [f"{value:.2f} ({split})", f"different recipe: {diff}" if recipe else diff]


def recipe_note(recipe: str | None) -> str:
    """The sentence under a section's scale that says how its recipe is not the lab's."""
    return f" Our recipe is not the lab's ({recipe})." if recipe else ""


def scale(subset: int, epochs: int, width: int | None = None, data: dict | None = None) -> str:
    """The training scale, and with `data` (a manifest) how many test images it is scored on."""
    images = f"{subset:,}" if subset else "all"
    epochs_text = f"{epochs} epoch{'s' if epochs != 1 else ''}"
    text = f"{images} train images, {epochs_text}" + (f", width {width}" if width else "")
    return text + (f"; {test_images(data)}" if data else "")


def test_images(data: dict) -> str:
    """On how many test images a manifest's test accuracies are measured."""
    n, of = data["counts"]["test"]["total"], data.get("test_of", data["counts"]["test"]["total"])
    return f"test accuracy on {n:,} of the {of:,} test images" if n < of else \
        f"test accuracy on all {n:,} test images"


def comparison_note(why_not: str | None) -> str:
    if why_not is None:
        return "Lab scale on the real dataset: *ours − lab* is shown."
    return f"No lab comparison (*ours − lab* is —): {why_not}."


def spread(s: dict) -> str:
    return f"{s['mean']:.2f} ± {s['std']:.2f}" if "std" in s else f"{s['mean']:.2f}"


def study_section(title: str, metrics: dict, stats: dict, refs: dict, scale_note: str,
                  why_not: str | None, figures: list[str], recipe: str | None = None) -> str:
    """`metrics`: depth -> arch -> seed -> metrics; `stats`: `metrics/analyze/<study>.json`
    (`collect.accuracy_statistics`, written by analyze_<study>)."""
    rows, gaps = [], []
    for depth in sorted(metrics):
        s = stats[str(depth)]
        for arch, runs in metrics[depth].items():
            a = s[arch]
            val = statistics.fmean(m["val_acc_at_min_loss"] for m in runs.values())
            rows.append([depth, arch, a["n"], spread(a), f"{a['min']:.2f} – {a['max']:.2f}",
                         pct(val), *versus({"test": a["mean"], "val": val},
                                           refs.get(depth, {}).get(arch), why_not is None,
                                           recipe)])
        if "residual_minus_plain" in s:
            g = s["residual_minus_plain"]
            ci = f"[{g['ci95_low']:+.2f}, {g['ci95_high']:+.2f}]" if "ci95_low" in g else \
                "— (one seed)"
            gaps.append([depth, f"{g['mean']:+.2f}", ci, g["n"]])
    body = table(["depth", "arch", "seeds", "test acc (mean ± std)", "min – max",
                  "val acc at min val loss", "lab", "ours − lab"], rows)
    gap_table = table(["depth", "residual − plain (mean)", "95% interval (Student t)",
                       "pairs"], gaps) if gaps else ""
    images = "\n".join(f"![{f.rsplit('/', 1)[-1][:-4]}]({f})" for f in figures)
    return (f"## {title}\n\nScale: {scale_note}. {comparison_note(why_not)}{recipe_note(recipe)}"
            f"\n\n{body}\n\n"
            f"Paired by seed, test accuracy:\n\n{gap_table}\n\n{images}\n")


def interval(g: dict) -> str:
    """A paired difference's 95% interval, or why there is none."""
    return f"[{g['ci95_low']:+.2f}, {g['ci95_high']:+.2f}]" if "ci95_low" in g else \
        "— (one seed)"


def improved_section(improved: dict, lab_recipe: dict | None, gap: dict | None,
                     scale_note: str, why_not: str | None, recipe: str | None = None,
                     study_recipe: str | None = None) -> str:
    """`improved`: the backbone over its seeds (`collect.over_seeds`); `lab_recipe`: the CNN
    study's residual variant of the same depth, same scale (or None), and `gap` the backbone −
    it, paired by seed; `recipe`: how ours differs from the lab's improved recipe, and
    `study_recipe` how the study's differs from the lab's (None: it does not)."""
    study = "lab recipe" if study_recipe is None else "CNN study's recipe"
    n = improved["test"]["n"]
    rows = [[f"improved backbone (improve_cnn, {n} seed{'s' if n > 1 else ''})",
             spread(improved["test"]), pct(improved["val_acc_at_min_loss"]),
             *versus(accuracies(improved), lab.IMPROVED, why_not is None, recipe)]]
    if lab_recipe is not None:
        rows.append([f"{study}, same depth (train_cnn, residual, mean over seeds)",
                     spread(lab_recipe), "—", "—", "—"])
    rows.append(["ResNet-20, He et al. 2016 (reference)", "—", "—",
                 f"{lab.RESNET20_PAPER[0]:.2f} (test)", "—"])
    paired_note = "" if gap is None else (
        f"\n\nImproved − {study}, test accuracy paired by seed ({gap['n']} pairs): "
        f"**{gap['mean']:+.2f}**, 95% interval {interval(gap)}"
        + ("" if study_recipe is None else f" (the study's recipe: {study_recipe})") + ".\n")
    return (f"## Improved backbone (CIFAR-10)\n\nScale: {scale_note}. {comparison_note(why_not)}"
            f"{recipe_note(recipe)}\n\n" + table(["model", "test acc", "val acc at min val loss",
                                                   "lab", "ours − lab"], rows) + paired_note
            + "\n")


CLAIMS = {  # summary key -> what the difference says
    "improve_minus_lab": "improved backbone − the CNN study's recipe (residual, same depth and "
                         "scale)",
    "ft2_minus_probe": "best FT2 − best linear probe (transfer)",
    "full_minus_ft2": "full fine-tune − best FT2 (transfer)",
}


def claims_section(stats: dict[str, dict], claims: dict[str, dict]) -> str:
    """Every comparison the study argues, one row each with its 95% interval: residual − plain
    per depth of each study (`stats`: study -> its analysis), then `summary.comparisons`."""
    rows = []
    for study, label in (("train_mlp", "MLP"), ("train_cnn", "CNN")):
        for depth, s in stats.get(study, {}).items():
            if "residual_minus_plain" in s:
                rows.append((f"{label} depth {depth}: residual − plain",
                             s["residual_minus_plain"]))
    rows += [(CLAIMS[k], c) for k, c in claims.items()]

    def verdict(g: dict) -> str:
        if "ci95_low" not in g:
            return "— (one seed)"
        return "yes" if g["ci95_low"] > 0 or g["ci95_high"] < 0 else "no"

    return "## What this run shows\n\nTest-accuracy differences paired by seed, mean and 95% " \
        "Student-t interval; *excludes 0* says whether the interval does.\n\n" + table(
            ["comparison", "mean", "95% interval", "pairs", "excludes 0"],
            [[name, f"{g['mean']:+.2f}", interval(g), g["n"], verdict(g)]
             for name, g in rows]) + "\n"


def accuracies(m: dict) -> dict[str, float]:
    """A training stage's test accuracy and validation accuracy of its selected epoch."""
    return {"test": m["test_acc"], "val": m["val_acc_at_min_loss"]}


def transfer_section(svm: dict, ladders: dict, single: dict[str, tuple[str, dict]],
                     scale_note: str, why_not: str | None, source_note: str,
                     figure: str, recipes: dict[tuple[str, str], str],
                     backbone: str | None = None, real: bool = True) -> str:
    """`ladders`: optimizer -> rung -> metrics over seeds (`collect.over_seeds`); `single`:
    rung -> (optimizer, metrics over seeds) for FT2+aug and the full fine-tune; `recipes`:
    (rung, optimizer) -> how that row's own recipe differs from the lab's (("svm", "") for the
    SVM; absent: the lab's); `backbone`: how the backbone's does, which every row inherits.
    Both are listed under the table. `real`: the data is the real target dataset; on a
    stand-in no lab number is shown. *last epoch* is how much the validation loss still fell in
    a row's last epoch (mean over seeds): well above 0, the rung had not converged."""
    ok = why_not is None

    def differs(key: tuple[str, str]) -> str | None:
        return "; ".join(w for w in (backbone and "the backbone", recipes.get(key)) if w) or None

    def seeds(m: dict) -> list[str]:  # test acc over seeds: mean ± std, 95% interval
        t = m["test"]
        ci = f"[{t['ci95_low']:.2f}, {t['ci95_high']:.2f}]" if "ci95_low" in t else "—"
        return [spread(t), ci]

    rows = [["SVM on features", "—", pct(svm["test_acc"]), "—", pct(svm["val_acc"]), "—", "—",
             "—", *versus({"test": svm["test_acc"], "val": svm["val_acc"]}, lab.SVM, ok,
                          differs(("svm", "")))]]

    def row(rung: str, opt: str, m: dict) -> list:
        ref = lab.TRANSFER.get(rung)  # the lab reported one optimizer per rung
        ref = ref[:2] if ref and opt == ref[2] else None
        kept = "—" if RUNGS[rung].starts_from is None else f"{m['kept_start']}/{m['test']['n']}"
        drop = m.get("last_epoch_val_loss_drop")  # absent from files of an older version
        return [RUNGS[rung].label, opt, *seeds(m), pct(m["val_acc_at_min_loss"]),
                "—" if drop is None else f"{drop:+.4f}", kept,
                f"{100 * m['trainable_fraction']:.1f}%",
                *versus(accuracies(m), ref, ok, differs((rung, opt)))]

    rows += [row(r.stage, opt, rungs[r.stage]) for r in LADDER for opt, rungs in ladders.items()]
    rows += [row(rung, opt, m) for rung, (opt, m) in single.items()]
    names = {"svm": "SVM"} | {r.stage: r.label for r in RUNGS.values()}
    reasons: dict[str, list[str]] = {}
    shown = {("svm", "")} | {(r.stage, o) for o in ladders for r in LADDER} | {
        (r, o) for r, (o, _) in single.items()}
    for (rung, opt), why in recipes.items():
        if (rung, opt) in shown:
            reasons.setdefault(why, []).append(f"{names[rung]} {opt}".strip())
    differ = "\n".join(f"- {', '.join(rows_)}: {why}" for why, rows_ in reasons.items())
    if backbone:
        differ = f"- the backbone, under every row: {backbone}\n{differ}"
    header = ["rung", "optimizer", "test acc (mean ± std)", "95% interval",
              "val acc at min val loss", "last epoch: val loss fell by",
              "kept its start (seeds)", "trainable", "lab", "ours − lab"]
    if not real:  # a stand-in: no lab number beside it
        header, rows = header[:-2], [r[:-2] for r in rows]
    return ("## Transfer to the target dataset\n\nData: " + source_note + ". Scale: " + scale_note
            + f". {comparison_note(why_not)} *kept its start*: seeds whose starting weights no "
            "epoch beat on validation loss (the rung then keeps them).\n\n"
            + table(header, rows) + aug_note(ladders, single)
            + (f"\n\nWhere our recipe is not the lab's:\n\n{differ}" if differ else "")
            + f"\n\n![transfer ladder]({figure})\n")


STILL_FALLING = 0.01  # a last-epoch fall of the validation loss above this: not converged


def aug_note(ladders: dict, single: dict[str, tuple[str, dict]]) -> str:
    """Why FT2 + augmentation trails the FT2 it is a variant of, when it does: what the
    validation loss did in its last epoch, against FT2's."""
    opt, aug = single.get("finetune_ft2_aug", (None, None))
    ft2 = ladders.get(opt, {}).get("finetune_ft2")
    if not ft2 or aug["test"]["mean"] >= ft2["test"]["mean"]:
        return ""
    gap = ft2["test"]["mean"] - aug["test"]["mean"]
    drop, ft2_drop = aug.get("last_epoch_val_loss_drop"), ft2.get("last_epoch_val_loss_drop")
    if drop is None or ft2_drop is None:
        return ""
    still = (f"its validation loss still fell by {drop:.4f} in its last epoch (FT2's: "
             f"{ft2_drop:+.4f}): at this scale it stops before the augmentation pays off"
             if drop > max(ft2_drop, STILL_FALLING) else
             f"its validation loss had stopped falling ({drop:+.4f} in its last epoch; FT2's: "
             f"{ft2_drop:+.4f}): on this data and scale the augmentation costs more than it gives")
    return (f"\n\nFT2 + augmentation trails FT2 ({opt}) by {gap:.2f} points: it trains the same "
            f"weights from the same start on augmented images, and {still}.")


HEADER = """# Results

Generated by the `report` stage from the metrics of this run (`dvc repro`); do not edit by hand.
Accuracies are top-1 in percent; ours are **test** accuracies of the weights of the epoch with
the lowest validation loss (*val acc at min val loss* is the validation accuracy of that epoch).
Spreads are over the seeds of the study (`seeds` in params.yaml): mean ± sample standard
deviation, and for residual − plain the mean of the per-seed differences with its 95% Student-t
interval. *lab* is the original study's number and the split it was measured on (it rarely
measured test accuracy; see docs/lab.md); *ours − lab* compares like with like, on the lab's
split, and says which: a lab validation number with our validation accuracy at the selected
epoch (the lab's are of its last epoch: its restored weights were the last epoch's), test with
test. It is shown only where a section ran at the lab's scale on the real dataset, and reads
"different recipe" where ours is not the lab's. Model selection (early stopping, SVM C) uses
the validation split only.
"""
