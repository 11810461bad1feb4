"""Experiments a user can watch and never lose, through the real DVC CLI: the wandb run of a
temporary experiment lands in the repository (not in the copy DVC deletes), named by the
experiment, and the experiment keeps the live progress it showed (queued ones: test_scale_out);
a sweep queues one experiment per value."""

import json

import pytest

pytestmark = pytest.mark.slow

TARGET = "train_mlp@2-residual-0"


def offline(repo):
    repo.env = {**repo.env, "WANDB_MODE": "offline"}
    repo.env.pop("WANDB_DIR", None)
    return repo


def live_of(repo, experiment: str) -> dict:
    record = repo.experiments()[experiment]
    return record["data"]["metrics"]["live/metrics.json"]["data"]["live"]


def queued(repo) -> list[str]:
    return [line for line in repo.dvc("queue", "status").stdout.splitlines()
            if " Queued " in f" {line} "]


def test_temporary_experiment_keeps_its_wandb_run_and_progress(dvc_repo):
    repo = offline(dvc_repo)
    repo.dvc("exp", "run", "--temp", "--name", "tiny-temp", TARGET)
    assert len(repo.wandb_runs("tiny-temp")) == 1  # in the repository, named by the experiment
    live = live_of(repo, "tiny-temp")  # committed with the experiment, as `dvc exp show` reads it
    assert live["stage"] == TARGET and live["epoch"] == live["epochs"] == 2


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
