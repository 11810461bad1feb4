"""Experiments a user can watch and read, through the real DVC CLI: a sweep queues one
experiment per value, and `dvc exp show` stays readable with the shipped lists. (A temporary
experiment keeps its wandb run and live progress: test_pipeline_mlp's profile test; queued ones:
test_scale_out.)"""

import json
import random

import pytest
import yaml

from conftest import ROOT, deep_update
from reslab.core.config import load
from reslab.core.files import write_metrics
from reslab.core.ladder import LADDER
from reslab.core.live import LIVE, write_progress
from reslab.core.sections import CNNStudyConfig, MLPStudyConfig, TransferConfig
from reslab.report.collect import accuracy_statistics, over_seeds, paired, variants
from reslab.report.summary import comparisons, headline

pytestmark = pytest.mark.slow

TARGET = "train_mlp@2-residual"


def queued(repo) -> list[str]:
    return [line for line in repo.dvc("queue", "status").stdout.splitlines()
            if " Queued " in f" {line} "]


def test_a_sweep_queues_one_experiment_per_value(dvc_repo):
    """DVC's sweep syntax: `-S 'key=a,b,c'` is three experiments; a list in brackets is one
    value."""
    repo = dvc_repo
    try:
        repo.dvc("exp", "run", "--queue", "-S", "train_mlp.train.lr=1e-4,2e-4,3e-4", TARGET)
        assert len(queued(repo)) == 3
        repo.dvc("exp", "run", "--queue", "-S", "train_mlp.seeds=[0,1,2]", TARGET)
        assert len(queued(repo)) == 4
        params = [run["data"]["params"]["params.yaml"]["data"]["train_mlp"]
                  for rev in json.loads(repo.dvc("exp", "show", "--json").stdout)
                  for exp in rev.get("experiments") or [] for run in exp["revs"]]
        assert sorted(p["train"]["lr"] for p in params) == [1e-4, 1e-4, 2e-4, 3e-4]
        assert [0, 1, 2] in [p["seeds"] for p in params]
    finally:
        repo.dvc("queue", "remove", "--queued", check=False)


@pytest.mark.parametrize(("profile", "columns"), [(None, 28), ("quick", 64)],
                         ids=["defaults", "quick"])
def test_exp_show_columns_with_the_shipped_lists(dvc_repo, monkeypatch, profile, columns):
    """The metric columns of a real `dvc exp show` with params.yaml's depths, archs, seeds and
    optimizers (and the quick profile's): the summary as the report builds it from the analysis
    as analyze_<study> computes it, on made-up accuracies (only the keys count here), beside the
    live progress as a training stage writes it."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if profile:
        deep_update(params, yaml.safe_load((ROOT / "profiles" / f"{profile}.yaml").read_text()))
    (dvc_repo.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(dvc_repo.path)
    rng = random.Random(0)

    def made_up() -> dict:
        return {"test_acc": rng.uniform(10, 90), "val_acc_at_min_loss": rng.uniform(10, 90)}

    stats = {}
    for study, cls in (("train_mlp", MLPStudyConfig), ("train_cnn", CNNStudyConfig)):
        metrics: dict = {}
        for depth, arch, seed in variants(load(study, cls)):
            metrics.setdefault(depth, {}).setdefault(arch, {})[seed] = made_up()
        stats[study] = accuracy_statistics(metrics)
    tr = load("transfer", TransferConfig)

    def transfer_row() -> dict:  # as the report reads it: over the shipped seeds
        return over_seeds({s: made_up() | {"trainable_fraction": 0.5} for s in tr.seeds})

    ladders = {opt: {r.stage: transfer_row() for r in LADDER} for opt in tr.optimizers}
    single = {"finetune_ft2_aug": ("adamw", transfer_row()),
              "finetune_full": ("adamw", transfer_row())}
    improved = transfer_row()  # any row over seeds: its gap paired with itself
    claims = comparisons(paired(improved, improved), ladders, single)
    write_metrics("metrics/summary.json", {"summary": headline(
        stats, improved, made_up(), ladders, single, claims)})
    row = {"epoch": 1, "train_loss": 2.0, "train_acc": 30.0, "val_loss": 2.1, "val_acc": 28.0,
           "lr": 1e-3}
    write_progress(LIVE, "train_cnn@20-residual", 3, [row], 1, 12.5)
    dvc_repo.commit("made-up results")
    header = dvc_repo.dvc("exp", "show", "--no-pager", "--csv").stdout.splitlines()[0]
    shown = [c for c in header.split(",") if c.startswith(("summary.", "live."))]
    assert len(shown) == columns, shown
