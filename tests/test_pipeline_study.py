"""The whole study through the real DVC CLI on tiny generated data (mirror zips for all three
datasets, a 100-class CIFAR-100-shaped stand-in), run once for the module; then what a DVC user
expects of it: nothing re-runs when nothing changed (bytecode and run-time knobs included),
a param re-runs exactly its variants, the plots and views are the intended ones, and
`dvc exp show` gives one readable row per experiment."""

import json
import re
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from reslab.core.ladder import LADDER
from reslab.datasets.standin import make_imagefolder_zip
from reslab.transfer import load_cnn
from whole_study import CHANCE, DOWNLOAD, build, ran, status, workspace_metrics

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build(tmp_path_factory)


def test_whole_study(study):
    root = study.path

    def metrics(path):
        return json.loads((root / "metrics" / path).read_text())

    # every stage left its outputs; `dvc metrics show` lists the declared ones, and the
    # stages' own files when asked for them
    declared = workspace_metrics(study)
    assert set(declared) == {"metrics/summary.json", "live/metrics.json"}
    shown = study.dvc("metrics", "show", "-R", "metrics", "--json").stdout
    for name in ("train_mlp/4-residual/1", "train_cnn/11-plain/0", "improve_cnn/0",
                 "svm_baseline", "linear_probe/adamw/0", "finetune_ft2/sgd_momentum/0",
                 "finetune_ft2_aug/0", "finetune_full/0", "analyze/train_cnn", "summary"):
        assert f"metrics/{name}.json" in shown
    live = metrics("../live/metrics.json")["live"]  # the last stage that trained, finished
    last = metrics(live["stage"].replace("@", "/") + ".json")
    assert live["epoch"] == last["epochs_run"] and live["selected_epoch"] == last["selected_epoch"]
    figures = sorted(p.name for p in (root / "plots/figures/train_cnn").iterdir())
    assert figures == ["accuracy_vs_depth.png", "gradflow_depth11.png", "gradflow_depth9.png",
                       "gradflow_heatmap_depth11.png", "gradflow_heatmap_depth9.png"]

    # the transfer ladder: above chance everywhere, more trainable at each rung
    assert metrics("svm_baseline.json")["test_acc"] > 5 * CHANCE
    for opt in ("adamw", "sgd_momentum"):
        ladder = [metrics(f"{rung}/{opt}/0.json") for rung in (r.stage for r in LADDER)]
        fractions = [m["trainable_fraction"] for m in ladder]
        assert fractions == sorted(fractions) and len(set(fractions)) == 4
        for m in ladder:
            assert m["test_acc"] > 5 * CHANCE
    aug = metrics("finetune_ft2_aug/0.json")
    assert aug["test_acc"] > 5 * CHANCE
    assert aug["trainable_fraction"] == metrics("finetune_ft2/adamw/0.json")["trainable_fraction"]
    assert metrics("finetune_full/0.json")["trainable_fraction"] == 1.0

    # frozen parts never move along the ladder; the block a rung unfreezes does
    backbone = load_cnn(root / "models/improve_cnn/0.pt")
    ft1 = load_cnn(root / "models/finetune_ft1/adamw/0.pt")
    ft2 = load_cnn(root / "models/finetune_ft2/adamw/0.pt")
    for a, b in [(backbone.stem, ft2.stem), (backbone.blocks[-3], ft1.blocks[-3])]:
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values(), strict=True))
    assert not torch.equal(backbone.blocks[-3].body[0].weight, ft2.blocks[-3].body[0].weight)
    assert ft2.head.out_features == 100

    # the report: every number, stand-in data and reduced scale marked, no lab difference
    report = (root / "reports/results.md").read_text()
    numbers = [metrics(p)["test_acc"] for p in (
        "improve_cnn/0.json", "svm_baseline.json", "linear_probe/adamw/0.json",
        "finetune_ft0/sgd_momentum/0.json", "finetune_ft1/adamw/0.json",
        "finetune_ft2/sgd_momentum/0.json", "finetune_ft2_aug/0.json", "finetune_full/0.json")]
    for value in numbers:
        assert f"| {value:.2f} |" in report
    mlp = metrics("analyze/train_mlp.json")["4"]["residual"]
    assert f"| {mlp['mean']:.2f} ± {mlp['std']:.2f} |" in report
    assert "generated stand-in" in report
    assert report.count("No lab comparison") == 4 and not re.search(r"\| [+-]\d+\.\d\d \|$",
                                                                      report, re.M)
    for image in re.findall(r"\]\(([^)]+\.png)\)", report):
        assert (root / "reports" / image).resolve().exists(), image

    summary = metrics("summary.json")["summary"]
    assert summary["svm"] == metrics("svm_baseline.json")["test_acc"]
    ft1 = [metrics(f"finetune_ft1/{o}/0.json") for o in ("adamw", "sgd_momentum")]
    assert summary["ft1_best"] == max(ft1, key=lambda m: m["val_acc_at_min_loss"])["test_acc"]
    assert summary["mlp_gap"]["4"] == metrics("analyze/train_mlp.json")["4"][
        "residual_minus_plain"]["mean"]
    assert not study.resume_dir_has_files()


def test_saved_models_rescore_to_their_metrics(study):
    """Every checkpoint, re-scored in a plain fp32 loop outside the engine, gives its stage's
    test accuracy to 0.05 points: evaluation runs in fp32, whatever precision a stage trained in."""
    proc = study.run(sys.executable, str(ROOT / "bench/rescore.py"), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert re.search(r"^(\d+) models, largest difference", proc.stdout, re.M)
    assert int(re.search(r"^(\d+) models", proc.stdout, re.M).group(1)) == 8 + 4 + 1 + 2 * 4 + 2


def test_nothing_changed_nothing_runs(study):
    again = study.dvc("repro").stdout
    assert ran(again) == {DOWNLOAD}  # the source check, which finds the same data
    assert status(study) == set()


def test_bytecode_caches_do_not_change_the_pipeline(study):
    env = {k: v for k, v in study.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(["python", "-c", "import reslab.train.study, reslab.transfer, "
                    "reslab.report.collect, reslab.datasets.prepare"], cwd=study.path, env=env,
                   check=True)
    assert list((study.path / "src/reslab/train").glob("__pycache__/*.pyc"))
    assert status(study) == set()


def test_runtime_knobs_retrain_nothing(study):
    study.set_params({"runtime": {"wandb": False, "progress": True, "device": "cpu"}})
    try:
        assert status(study) == set()
    finally:
        study.run("git", "checkout", "params.yaml")


def test_a_param_reruns_exactly_its_variants(study):
    """One optimizer's learning rate re-runs that optimizer's probe (and, downstream, its
    ladder), not the other probe; the loop shared by the fine-tuning rungs re-runs them all.
    The report, which reads the whole `transfer` section, re-runs for either."""
    study.set_params({"transfer": {"probe": {"optim": {"adamw": {"lr": 0.01}}}}})
    try:
        assert status(study) == {"linear_probe@adamw", "report"}
    finally:
        study.run("git", "checkout", "params.yaml")
    study.set_params({"transfer": {"finetune": {"optim": {"sgd_momentum": {"lr": 0.05}}}}})
    try:
        assert status(study) == {f"finetune_ft{i}@sgd_momentum" for i in range(3)} | {"report"}
    finally:
        study.run("git", "checkout", "params.yaml")


def test_plots_are_the_intended_charts(study):
    plots = json.loads(study.dvc("plots", "show", "--json").stdout)["data"]
    charts = {"live_acc", "train_mlp_val_acc", "train_cnn_val_acc", "improve_cnn_val_acc",
              "linear_probe_val_acc", "finetune_ft0_val_acc", "finetune_ft1_val_acc",
              "finetune_ft2_val_acc"}
    images = {str(p.relative_to(study.path)) for folder in ("plots/figures", "reports/figures")
              for p in (study.path / folder).rglob("*.png")}
    assert set(plots) == charts | images and len(images) == 5 + 5 + 3

    def lines(chart):
        values = plots[chart][0]["content"]["data"]["values"]
        return {v["variant"] for v in values}, {v["field"] for v in values}

    variants, fields = lines("train_mlp_val_acc")
    assert variants == {f"{d}-{a}-{s}" for d in (2, 4) for a in ("plain", "residual")
                        for s in (0, 1)} and fields == {"val_acc"}
    assert lines("linear_probe_val_acc")[0] == {"adamw-0", "sgd_momentum-0"}
    assert lines("finetune_ft2_val_acc")[0] == {"adamw-0", "sgd_momentum-0", "ft2_aug-0 (adamw)",
                                                "full-0 (adamw)"}
    assert lines("improve_cnn_val_acc") == ({"0"}, {"val_acc"})


def test_one_readable_row_per_experiment(study):
    """`dvc exp show` kept to the summary: its headline numbers, one row per experiment."""
    study.dvc("exp", "run", "-n", "svm-iter", "-S", "transfer.svm_max_iter=50")
    table = study.dvc("exp", "show", "--no-pager", "--csv", "--drop", ".*", "--keep",
                      r"Experiment|Created|summary\.").stdout
    header, *rows = table.strip().splitlines()
    columns = header.split(",")
    summary = {f"summary.{k}" for k in (
        "mlp_gap.2", "mlp_gap.4", "cnn_gap.9", "cnn_gap.11", "improve_cnn", "svm", "probe_best",
        "ft0_best", "ft1_best", "ft2_best", "ft2_aug", "full", "mlp_gap_ci95_low.2",
        "mlp_gap_ci95_low.4", "mlp_gap_ci95_high.2", "mlp_gap_ci95_high.4",  # 2 MLP seeds
        "comparison.ft2_minus_probe", "comparison.full_minus_ft2")}  # one transfer seed
    assert columns[:2] == ["Experiment", "Created"] and set(columns[2:]) == summary, columns
    names = [row.split(",")[0] for row in rows]  # workspace, baseline, the experiment
    assert len(rows) == 3 and names[2] == "svm-iter", rows
    svm = json.loads((study.path / "metrics/svm_baseline.json").read_text())["test_acc"]
    assert rows[names.index("svm-iter")].split(",")[columns.index("summary.svm")] == str(svm)
    diff = study.dvc("metrics", "diff", "--all", "--targets", "metrics/summary.json", "--",
                     "HEAD", "svm-iter").stdout.strip().splitlines()
    assert len(diff) == 1 + len(summary) and any("summary.svm " in line for line in diff)
    study.run("git", "reset", "-q", "--hard")
    study.dvc("checkout", "--force")
    assert status(study) == set()


def leaves(tree: dict, prefix: str = "") -> set[str]:
    return {leaf for k, v in tree.items() for leaf in (
        leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"])}


def test_exp_show_is_readable_as_it_comes(study):
    """Plain `dvc exp show`: the headline numbers and the live progress, at most 40 metric
    columns (each variant's own metrics file is an output, not a declared metric)."""
    shown = set()
    for rev in json.loads(study.dvc("exp", "show", "--json").stdout):
        for run in [rev] + [r for e in rev.get("experiments") or [] for r in e["revs"]]:
            for path, found in (run.get("data") or {}).get("metrics", {}).items():
                shown |= {(path, leaf) for leaf in leaves(found["data"])}
    expected = {(path, leaf) for path in ("metrics/summary.json", "live/metrics.json")
                for leaf in leaves(json.loads((study.path / path).read_text()))
                if not leaf.startswith("history")}  # the per-epoch list is for `dvc plots`
    assert shown == expected and len(shown) <= 40, sorted(shown)
    header = study.dvc("exp", "show", "--no-pager", "--csv").stdout.splitlines()[0].split(",")
    assert {c for c in header if c.startswith(("summary.", "live."))} == {
        leaf for _, leaf in expected}


def test_changed_source_reruns_its_preparation_only(study):
    """download_data is the tracked first step: a different archive in the mirror re-runs
    that dataset's preparation (and so everything after it); the same one re-runs nothing."""
    mirror = study.path.parent / "mirror"
    original = (mirror / "cifar100.zip").read_bytes()
    make_imagefolder_zip(mirror / "cifar100.zip", classes=100, n_train=8, n_test=3, size=32,
                         mode="RGB", seed=8)
    try:
        study.dvc("repro", "-s", DOWNLOAD)
        assert status(study) == {"prepare_data@cifar100"}
    finally:
        (mirror / "cifar100.zip").write_bytes(original)
    study.dvc("repro", "-s", DOWNLOAD)
    assert status(study) == set()


def test_views_list_only_what_the_pipeline_produces(study):
    """After dropping a depth, its old files stay on disk but no view shows them."""
    study.set_params({"train_mlp": {"depths": [2]}})
    study.dvc("repro", "report")
    summary = workspace_metrics(study)["metrics/summary.json"]["data"]["summary"]
    assert set(summary["mlp_gap"]) == {"2"}
    assert (study.path / "metrics/train_mlp/4-plain/0.json").exists()
    plots = json.loads(study.dvc("plots", "show", "--json", "train_mlp_val_acc").stdout)["data"]
    variants = {v["variant"] for v in plots["train_mlp_val_acc"][0]["content"]["data"]["values"]}
    assert variants == {f"2-{a}-{s}" for a in ("plain", "residual") for s in (0, 1)}
