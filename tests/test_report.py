"""Statistics over seeds (checked by hand), and the rule for comparing with the lab's numbers."""

import dataclasses
import json
import math

import pytest

from project import section as shipped
from reslab.core import sections
from reslab.core.ladder import LADDER
from reslab.report import lab
from reslab.report.collect import (
    accuracy_statistics,
    over_seeds,
    transfer_curves,
    transfer_metrics,
)
from reslab.report.results import (
    CLAIMS,
    aug_note,
    claims_section,
    improved_section,
    study_section,
    transfer_section,
)
from reslab.report.sections import same_scale
from reslab.report.stats import describe, paired_difference
from reslab.report.summary import best_run, comparisons, headline

STAGES = [r.stage for r in LADDER]  # the ladder's rungs, LP to FT2


def test_describe_by_hand():
    d = describe([70.0, 72.0, 77.0])
    assert d["n"] == 3 and d["mean"] == 73.0 and (d["min"], d["max"]) == (70.0, 77.0)
    assert d["std"] == pytest.approx(math.sqrt((9 + 1 + 16) / 2))
    assert "std" not in describe([70.0])


def test_paired_difference_by_hand():
    """residual - plain paired by seed: differences 30, 33, 30; mean 31, sd sqrt(3); the 97.5%
    Student t quantile with 2 degrees of freedom is 4.302653, so the interval is 31 +- 4.3027."""
    plain = {0: 10.0, 1: 12.0, 2: 11.0, 9: 50.0}  # seed 9 has no residual partner: ignored
    residual = {0: 40.0, 1: 45.0, 2: 41.0}
    g = paired_difference(plain, residual)
    assert g["n"] == 3 and g["mean"] == pytest.approx(31.0)
    assert g["std"] == pytest.approx(math.sqrt(3))
    assert g["ci95_low"] == pytest.approx(31 - 4.302653, abs=1e-5)
    assert g["ci95_high"] == pytest.approx(31 + 4.302653, abs=1e-5)
    one = paired_difference({0: 10.0}, {0: 40.0})
    assert one == {"n": 1, "mean": 30.0}, "one pair: no spread, no interval (not zero)"


def test_accuracy_statistics_of_a_fixed_table():
    table = {30: {"plain": {0: {"test_acc": 11.35}, 1: {"test_acc": 11.35}},
                  "residual": {0: {"test_acc": 94.0}, 1: {"test_acc": 95.0}}}}
    s = accuracy_statistics(table)["30"]
    assert s["plain"] == {"n": 2, "mean": 11.35, "min": 11.35, "max": 11.35, "std": 0.0}
    gap = s["residual_minus_plain"]
    assert gap["mean"] == pytest.approx(83.15) and gap["std"] == pytest.approx(0.7071, abs=1e-4)
    half = 12.706205 * 0.70710678 / math.sqrt(2)
    assert gap["ci95_low"] == pytest.approx(83.15 - half, abs=1e-4)


def manifest(classes=10, train=55_000, val=5_000, test=10_000, shape=(28, 28, 1), note=None):
    return {"num_classes": classes, "image_shape": list(shape), "source_note": note,
            "counts": {"train": {"total": train}, "val": {"total": val},
                       "test": {"total": test}}}


def test_lab_comparison_only_at_lab_scale_on_the_real_dataset():
    assert lab.comparable("train_mlp", manifest(), 0, 20, 32) is None
    assert lab.comparable("train_mlp", manifest(), 0, 30, 32) is None  # more epochs: still fair
    assert lab.comparable("train_mlp", manifest(train=59_000, val=1_000), 0, 20, 32) == (
        "a 1,000-image validation split (the lab: 5,000)")
    why = lab.comparable("train_cnn", manifest(shape=(32, 32, 3), train=45_000), 8000, 4, 16)
    assert why == ("8,000 training images (the lab: all); 4 epochs (the lab: 20); "
                   "width 16 (the lab: 32)")
    standin = manifest(shape=(32, 32, 3), classes=100, train=9_980, val=20, test=2_000,
                       note="generated stand-in")
    assert lab.comparable("transfer", standin, 0, 30).startswith(
        "the data is not the real cifar100 (generated stand-in)")
    ten_classes = manifest(shape=(32, 32, 3), train=45_000)  # CIFAR-10 served as cifar100
    assert "not the real cifar100 (10 classes)" in lab.comparable("transfer", ten_classes, 0, 30)
    real = manifest(classes=100, shape=(32, 32, 3), train=45_000)
    assert lab.comparable("transfer", real, 0, 30) is None
    # a test subset of the real dataset: still the real one, but not the lab's test set
    sampled = manifest(train=59_000, val=1_000, test=2_000) | {"test_of": 10_000}
    assert lab.comparable("train_mlp", sampled, 0, 20, 32) == (
        "2,000 of the 10,000 test images; a 1,000-image validation split (the lab: 5,000)")


def test_no_difference_column_away_from_the_lab_scale():
    metrics = {10: {"plain": {0: {"val_acc_at_min_loss": 80.0, "test_acc": 80.0}},
                    "residual": {0: {"val_acc_at_min_loss": 86.0, "test_acc": 85.0}}}}
    stats = accuracy_statistics(metrics)
    reduced = study_section("MLP", metrics, stats, lab.MLP, "scale", "4 epochs (the lab: 20)", [])
    assert "| 89.60 (test) | — |" in reduced and "No lab comparison" in reduced
    full = study_section("MLP", metrics, stats, lab.MLP, "scale", None, [])
    # like with like: the lab's plain number is a test accuracy, its residual one a validation one
    assert "| 89.60 (test) | -9.60 (test − test) |" in full
    assert "| 96.04 (val) | -10.04 (val − val) |" in full
    m = over_seeds({0: {"test_acc": 48.63, "val_acc_at_min_loss": 50.0,
                        "trainable_fraction": 1.0}}) | {"val_acc": 50.0}
    ladders = {"adam": {r: m for r in STAGES}}
    section = transfer_section(m, ladders, {"finetune_full": ("adam", m)}, "scale",
                               "the data is not the real cifar100 (10 classes)", "src", "f.png",
                               {})
    assert "+48.63" not in section and "+6.66" not in section and "| 41.97 (test) | — |" in section


def test_a_different_recipe_is_never_a_plain_improvement():
    """At the lab's scale, a row whose recipe is not the lab's shows both numbers and marks the
    difference; params.yaml's studies follow the lab, improve_cnn and the transfer do not."""
    improved = over_seeds({0: {"test_acc": 91.0, "val_acc_at_min_loss": 90.44,
                               "trainable_fraction": 1.0}})
    section = improved_section(improved, None, None, "scale", None,
                               "optimizer adamw (the lab: adam)")
    assert "| 89.44 (val) | different recipe: +1.00 (val − val) |" in section
    assert "Our recipe is not the lab's (optimizer adamw (the lab: adam))" in section
    assert "| 89.44 (val) | +1.00 (val − val) |" in improved_section(improved, None, None, "scale",
                                                                    None, None)
    mlp, cnn = shipped("train_mlp", sections.MLPStudyConfig), shipped("train_cnn",
                                                                    sections.CNNStudyConfig)
    assert lab.recipe_differs("train_mlp", mlp.train) is None
    assert lab.recipe_differs("train_cnn", cnn.train, cnn.augment) is None
    faster = dataclasses.replace(cnn.train, lr=3e-3, min_lr=0.0)
    assert lab.recipe_differs("train_cnn", faster) == ("lr 0.003 (the lab: 0.001); "
                                                       "min_lr 0.0 (the lab: 1e-06)")
    imp = shipped("improve_cnn", sections.ImproveConfig)
    backbone = lab.recipe_differs("improve_cnn", imp.train, imp.augment)
    assert backbone.startswith("optimizer adamw (the lab: adam); lr 0.002 (the lab: 0.001)")
    assert "plateau_factor" not in backbone and "min_delta" not in backbone  # inert for us


def test_transfer_rows_say_how_their_recipe_differs():
    tr = shipped("transfer", sections.TransferConfig)
    data = {"flip_changes_label": False}
    recipes = lab.transfer_recipes(tr, data)
    assert ("svm", "") not in recipes  # the lab's C and iterations
    assert recipes[("linear_probe", "adam")] == lab.PROBE
    assert recipes[("finetune_ft1", "adamw")] == lab.RUNG  # the lab's lr and decay, batch 64
    adamw = dataclasses.replace(tr.finetune.optim.adamw, lr=1e-4, weight_decay=0.3)
    decayed = dataclasses.replace(tr.finetune, optim=dataclasses.replace(tr.finetune.optim,
                                                                         adamw=adamw))
    again = lab.transfer_recipes(dataclasses.replace(tr, finetune=decayed, svm_max_iter=100),
                                 data)
    assert again[("finetune_ft0", "adamw")] == f"{lab.RUNG}; weight_decay 0.3 (the lab: 0.01)"
    assert again[("svm", "")] == "C [1.0], max_iter 100 (the lab: C 1.0, max_iter 5000)"
    m = over_seeds({0: {"test_acc": 40.0, "val_acc_at_min_loss": 39.0,
                        "trainable_fraction": 0.1}}) | {"val_acc": 41.0}
    ladders = {"adam": {r: m for r in STAGES}}
    single = {"finetune_full": ("adam", m)}
    section = transfer_section(m, ladders, single, "scale", None, "src", "f.png", recipes)
    assert "| 41.97 (test) | -1.97 (test − test) |" in section  # the SVM, as the lab's
    assert "| 37.72 (val) | different recipe: +1.28 (val − val) |" in section  # LP adam
    assert f"- LP adam: {lab.PROBE}" in section and "LP adamw" not in section  # rows shown only
    on_ours = transfer_section(m, ladders, single, "scale", None, "src", "f.png", recipes,
                               backbone="optimizer adamw (the lab: adam)")
    assert "| 41.97 (test) | different recipe: -1.97 (test − test) |" in on_ours
    assert "- the backbone, under every row: optimizer adamw (the lab: adam)" in on_ours


def test_best_of_a_rung_is_chosen_on_validation_not_test():
    runs = [{"val_acc_at_min_loss": 90.8, "test_acc": 87.7},   # best on val
            {"val_acc_at_min_loss": 90.4, "test_acc": 89.2}]   # best on test
    assert best_run(runs)["test_acc"] == 87.7


def test_lab_recipe_row_only_beside_an_improved_backbone_of_the_same_scale():
    imp = shipped("improve_cnn", sections.ImproveConfig)
    cnn = shipped("train_cnn", sections.CNNStudyConfig)
    imp = dataclasses.replace(imp, dataset=cnn.dataset, train_subset=cnn.train_subset,
                              width=cnn.width)
    assert same_scale(imp, dataclasses.replace(cnn, train=imp.train))
    longer = dataclasses.replace(imp.train, epochs=imp.train.epochs + 10)
    assert not same_scale(dataclasses.replace(imp, train=longer), cnn)


def test_transfer_rows_over_seeds_show_their_spread_and_interval():
    """`transfer.seeds`: each row is the mean over its seeds, with the std and the 95%
    Student-t interval of that mean (none with one seed), and the summary carries the interval
    of every headline rung."""
    runs = {s: {"test_acc": acc, "val_acc_at_min_loss": acc + 1, "trainable_fraction": 0.3}
            for s, acc in enumerate([40.0, 42.0, 44.0])}
    m = over_seeds(runs)
    assert (m["test_acc"], m["val_acc_at_min_loss"]) == (42.0, 43.0)
    assert m["test"]["std"] == 2.0 and m["test"]["ci95_low"] == pytest.approx(42 - 4.9683, 1e-4)
    assert "ci95_low" not in over_seeds({0: runs[0]})["test"]
    ladders = {"adam": {r: m for r in STAGES}}
    single = {"finetune_ft2_aug": ("adam", m), "finetune_full": ("adam", m)}
    section = transfer_section(m | {"val_acc": 1.0}, ladders, single, "scale", "small", "src",
                               "f.png", {})
    assert "| FT0 | adam | 42.00 ± 2.00 | [37.03, 46.97] | 43.00 |" in section


def test_the_best_optimizer_is_the_best_on_mean_validation_over_seeds():
    """adam is best on seed 0's validation, sgd on the mean over seeds: sgd is the rung's
    headline, with its spread and interval."""
    def runs(vals, tests):
        return over_seeds({s: {"test_acc": t, "val_acc_at_min_loss": v, "trainable_fraction": 0.3}
                           for s, (v, t) in enumerate(zip(vals, tests, strict=True))})

    adam, sgd = runs([50.0, 30.0], [48.0, 29.0]), runs([45.0, 45.0], [44.0, 46.0])
    rungs = STAGES
    ladders = {"adam": dict.fromkeys(rungs, adam), "sgd": dict.fromkeys(rungs, sgd)}
    single = {"finetune_ft2_aug": ("adam", adam), "finetune_full": ("adam", adam)}
    summary = headline({}, {"test_acc": 1.0}, {"test_acc": 2.0}, ladders, single, {})
    assert summary["ft1_best"] == 45.0 and summary["ft2_aug"] == 38.5
    assert summary["transfer_std"]["ft1_best"] == sgd["test"]["std"] == round(2 ** 0.5, 4)
    assert summary["transfer_ci95_low"]["probe_best"] == sgd["test"]["ci95_low"]


def test_transfer_files_of_every_seed_are_read(tmp_path, monkeypatch):
    """The report's reading of `metrics/<rung>/<opt>/<seed>.json` and of the single rungs'
    `metrics/<stage>/<seed>.json`, and the per-seed lines of the `dvc plots` tables."""
    monkeypatch.chdir(tmp_path)
    tr = dataclasses.replace(shipped("transfer", sections.TransferConfig), optimizers=["adamw"],
                             seeds=[0, 1])
    rungs = STAGES
    for seed, acc in ((0, 40.0), (1, 50.0)):
        m = {"test_acc": acc, "val_acc_at_min_loss": acc, "trainable_fraction": 0.5}
        history = "epoch,val_acc\n1,10\n"
        for stem in [f"{rung}/adamw/{seed}" for rung in rungs] + [
                f"{stage}/{seed}" for stage in ("finetune_ft2_aug", "finetune_full")]:
            for kind, text in (("metrics", json.dumps(m)), ("plots", history)):
                path = tmp_path / kind / f"{stem}.{'json' if kind == 'metrics' else 'csv'}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    ladders, single = transfer_metrics(tr)
    assert ladders["adamw"]["finetune_ft1"]["test_acc"] == 45.0
    assert single["finetune_full"][0] == tr.full.train.optimizer
    assert single["finetune_full"][1]["test"]["n"] == 2
    lines = transfer_curves(tr)["finetune_ft2"]
    assert {"adamw-0", "adamw-1", "ft2_aug-0 (adamw)", "ft2_aug-1 (adamw)"} <= set(lines.variant)


def test_the_claims_are_differences_paired_by_seed_with_their_intervals():
    """FT2 − LP and full − FT2 pair each seed's best-on-validation rows; the improved backbone's
    gap is given. Differences by hand: FT2 − LP 2, 4, 3 (mean 3, sd 1, t 4.302653)."""
    def row(tests, val):
        return over_seeds({s: {"test_acc": t, "val_acc_at_min_loss": val,
                               "trainable_fraction": 0.5} for s, t in enumerate(tests)})

    lp, ft2, other = row([80.0, 81.0, 82.0], 80.0), row([82.0, 85.0, 85.0], 85.0), \
        row([99.0, 99.0, 99.0], 10.0)  # best on test, worst on validation: never chosen
    ladders = {"adam": {**dict.fromkeys(STAGES, other), STAGES[0]: lp, STAGES[-1]: ft2},
               "sgd": dict.fromkeys(STAGES, other)}
    full = row([90.0, 90.0, 90.0], 90.0)
    gap = {"n": 3, "mean": 1.5}
    claims = comparisons(gap, ladders, {"finetune_full": ("adam", full)})
    assert claims["improve_minus_lab"] is gap
    up = claims["ft2_minus_probe"]
    assert up["mean"] == 3.0 and up["ci95_low"] == pytest.approx(3 - 4.302653 / 3 ** 0.5, 1e-4)
    assert claims["full_minus_ft2"]["mean"] == pytest.approx(6.0)
    text = claims_section({"train_mlp": {"10": {"residual_minus_plain": {"n": 1, "mean": 5.0}}}},
                          claims)
    assert "| MLP depth 10: residual − plain | +5.00 | — (one seed) | 1 | — (one seed) |" in text
    assert f"| {CLAIMS['ft2_minus_probe']} | +3.00 | [+0.52, +5.48] | 3 | yes |" in text
    summary = headline({}, {"test_acc": 1.0}, {"test_acc": 2.0}, ladders,
                       {"finetune_ft2_aug": ("adam", full), "finetune_full": ("adam", full)},
                       claims)
    assert summary["comparison"]["ft2_minus_probe"] == 3.0
    assert summary["comparison_ci95_low"]["ft2_minus_probe"] == up["ci95_low"]
    assert "improve_minus_lab" not in summary["comparison_ci95_low"]  # one pair: no interval


def test_a_stand_in_is_shown_with_no_lab_number_and_each_rung_says_if_it_converged():
    m = over_seeds({0: {"test_acc": 40.0, "val_acc_at_min_loss": 39.0, "trainable_fraction": 0.1,
                        "last_epoch_val_loss_drop": 0.125, "selected_epoch": 0}}) | {
        "val_acc": 41.0}
    ladders = {"adam": {r: m for r in STAGES}}
    single = {"finetune_full": ("adam", m)}
    real = transfer_section(m, ladders, single, "scale", None, "src", "f.png", {})
    standin = transfer_section(m, ladders, single, "scale", "a stand-in", "src", "f.png", {},
                               real=False)
    assert "41.97" in real and "41.97" not in standin
    assert "| lab | ours − lab |" in real and "| lab |" not in standin
    assert "| FT1 | adam | 40.00 | — | 39.00 | +0.1250 | 1/1 |" in standin  # kept its start
    assert "| LP | adam | 40.00 | — | 39.00 | +0.1250 | — |" in standin


def test_the_report_says_why_ft2_with_augmentation_trails():
    def m(acc, drop):
        return {"test": {"mean": acc}, "last_epoch_val_loss_drop": drop}
    ladders = {"adamw": {"finetune_ft2": m(88.0, 0.001)}}
    still = aug_note(ladders, {"finetune_ft2_aug": ("adamw", m(87.0, 0.02))})
    assert "trails FT2 (adamw) by 1.00 points" in still and "still fell by 0.0200" in still
    stopped = aug_note(ladders, {"finetune_ft2_aug": ("adamw", m(87.0, -0.01))})
    assert "had stopped falling (-0.0100" in stopped
    assert "had stopped" in aug_note(ladders, {"finetune_ft2_aug": ("adamw", m(87.0, 0.005))})
    assert aug_note(ladders, {"finetune_ft2_aug": ("adamw", m(89.0, 0.02))}) == ""
