"""metrics/summary.json: the study's headline numbers, one row of `dvc exp show` per experiment."""

from __future__ import annotations

from reslab.core.ladder import LADDER, SINGLE
from reslab.report.collect import paired


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


def best_run(runs: list[dict]) -> dict:
    """The run with the highest validation accuracy (over seeds, the mean): the optimizer is
    chosen on the validation split, as the SVM's C is, never on the test split it is scored on."""
    return max(runs, key=lambda m: m["val_acc_at_min_loss"])


def comparisons(improved_gap: dict | None, ladders: dict[str, dict],
                single: dict[str, tuple[str, dict]]) -> dict[str, dict]:
    """The study's claims beyond residual − plain, each a difference of test accuracies paired
    by seed (`collect.paired`): the improved backbone − the CNN study's residual CNN of its
    depth (`improved_gap`, absent when the two ran at different scales), the best FT2 − the
    best linear probe, and the full fine-tune − the best FT2 (best: on validation)."""
    best = {r.stage: best_run([rungs[r.stage] for rungs in ladders.values()]) for r in LADDER}
    ft2, probe = best[LADDER[-1].stage], best[LADDER[0].stage]
    out = {"improve_minus_lab": improved_gap} if improved_gap else {}
    return out | {"ft2_minus_probe": paired(probe, ft2),
                  "full_minus_ft2": paired(ft2, single["finetune_full"][1])}


def headline(stats: dict[str, dict], improved: dict, svm: dict, ladders: dict[str, dict],
             single: dict[str, tuple[str, dict]], claims: dict[str, dict]) -> dict:
    """The `summary`: `stats`: study -> its analysis; `ladders`: optimizer -> rung stage ->
    metrics over seeds; `single`: rung stage -> (optimizer, metrics over seeds) for the rungs
    of one optimizer; `claims`: `comparisons`, under `comparison` (the means) and
    `comparison_ci95_low`/`_high` (where there are two seeds or more). A ladder's rung is named
    `<rung>_best` (its best optimizer), a rung of one optimizer by its name."""
    summary = {}
    for study, s in stats.items():
        summary |= gap_summary(study.removeprefix("train_"), s)
    rows = {f"{r.name}_best": best_run([rungs[r.stage] for rungs in ladders.values()])
            for r in LADDER} | {r.name: single[r.stage][1] for r in SINGLE}
    summary |= {"improve_cnn": improved["test_acc"], "svm": svm["test_acc"]} | {
        k: m["test_acc"] for k, m in rows.items()}
    for key in ("std", "ci95_low", "ci95_high"):  # more than one transfer seed: the spread
        found = {k: m["test"][key] for k, m in rows.items() if key in m.get("test", {})}
        if found:
            summary[f"transfer_{key}"] = found
    summary["comparison"] = {k: c["mean"] for k, c in claims.items()}
    for end in ("low", "high"):
        bound = {k: c[f"ci95_{end}"] for k, c in claims.items() if f"ci95_{end}" in c}
        if bound:
            summary[f"comparison_ci95_{end}"] = bound
    return summary
