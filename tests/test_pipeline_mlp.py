"""The MLP study through the real DVC CLI on tiny generated data: variants per depth, arch and
seed, experiments, and the quick-profile wrapper."""

import json
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow

KEYS = {"test_acc", "val_acc_at_min_loss", "max_val_acc", "selected_epoch", "epochs_run",
        "n_params", "train_seconds"}


def changed(repo) -> set[str]:
    """Stages of the MLP study (and what they need) that `dvc repro analyze_mlp` would run."""
    out = repo.dvc("status", "--json", "--with-deps", "analyze_mlp").stdout
    return set(json.loads(out)) - {"sources/dvc.yaml:download_data"}


def test_mlp_study_repro_experiment_and_partial_rerun(dvc_repo):
    dvc_repo.dvc("repro", "analyze_mlp")
    root = dvc_repo.path
    for variant in ("2-plain/0", "2-residual/0", "4-plain/0", "4-residual/0"):
        metrics = json.loads((root / f"metrics/train_mlp/{variant}.json").read_text())
        assert set(metrics) >= KEYS and metrics["epochs_run"] == 2
        assert (root / f"models/train_mlp/{variant}.pt").stat().st_size > 0
        header = (root / f"plots/train_mlp/{variant}.csv").read_text().splitlines()[0]
        assert header == "epoch,train_loss,train_acc,val_loss,val_acc,lr"
        grads = (root / f"plots/gradflow/train_mlp/{variant}.csv").read_text().splitlines()
        assert grads[0].startswith("epoch,layer,") and {ln.split(",")[0] for ln in grads[1:]} \
            == {"0", "1", "2"}  # at initialisation and after each epoch
    figures = sorted(p.name for p in (root / "plots/figures/train_mlp").iterdir())
    assert figures == ["accuracy_vs_depth.png", "gradflow_depth2.png", "gradflow_depth4.png",
                       "gradflow_heatmap_depth2.png", "gradflow_heatmap_depth4.png"]
    summary = json.loads((root / "metrics/analyze/train_mlp.json").read_text())
    assert set(summary) == {"2", "4"} and "init_first_layer_grad_ratio" in summary["4"]
    assert summary["4"]["plain"]["n"] == 1 and "std" not in summary["4"]["plain"]
    assert "ci95_low" not in summary["4"]["residual_minus_plain"]  # one seed: no interval
    assert not dvc_repo.resume_dir_has_files()
    dvc_repo.commit("baseline run")

    # an experiment with one param changed (one variant re-run), compared with `dvc metrics diff`
    dvc_repo.dvc("exp", "run", "-n", "fast-lr", "-S", "train_mlp.train.lr=0.01",
                 "train_mlp@4-residual")
    diff = json.loads(dvc_repo.dvc("metrics", "diff", "--json", "-R", "--targets",
                                   "metrics/train_mlp").stdout)
    assert "test_acc" in diff["metrics/train_mlp/4-residual/0.json"]
    assert "fast-lr" in dvc_repo.dvc("exp", "show", "--no-pager", "--csv").stdout
    dvc_repo.run("git", "reset", "-q", "--hard")
    dvc_repo.dvc("checkout", "--force", "train_mlp", "analyze_mlp")

    # another depth re-runs only that depth's variants (and the analysis) ...
    dvc_repo.set_params({"train_mlp": {"depths": [2, 3]}})
    assert changed(dvc_repo) == {"train_mlp@3-plain", "train_mlp@3-residual", "analyze_mlp"}

    # ... and another seed every variant's (a variant's stage trains all of its seeds)
    dvc_repo.set_params({"train_mlp": {"depths": [2, 4], "seeds": [0, 1]}})
    assert changed(dvc_repo) == {"train_mlp@2-plain", "train_mlp@2-residual",
                                 "train_mlp@4-plain", "train_mlp@4-residual", "analyze_mlp"}
    dvc_repo.dvc("repro", "analyze_mlp")
    summary = json.loads((root / "metrics/analyze/train_mlp.json").read_text())
    gap = summary["4"]["residual_minus_plain"]
    assert gap["n"] == 2 and gap["ci95_low"] <= gap["mean"] <= gap["ci95_high"]
    a = json.loads((root / "metrics/train_mlp/4-plain/0.json").read_text())
    b = json.loads((root / "metrics/train_mlp/4-plain/1.json").read_text())
    assert a["test_loss"] != b["test_loss"], "another seed is another run"
    assert changed(dvc_repo) == set()


def test_profile_runs_a_named_experiment_and_leaves_params_alone(dvc_repo):
    """`reslab-profile`: the overrides reach DVC JSON-quoted, a relative mirror path still
    finds the data in the temporary copy, and params.yaml keeps what it held. The temporary
    experiment keeps its wandb run (in the repository's wandb/, not the copy DVC deletes, with
    the experiment's name in its record) and the live progress it showed."""
    dvc_repo.log_offline()
    (dvc_repo.path / "profiles" / "tiny.yaml").write_text(yaml.safe_dump(
        {"runtime": {"wandb_project": "a,b"}, "train_mlp": {"train": {"lr": 0.02}}}))
    dvc_repo.commit("a tiny profile")
    before = (dvc_repo.path / "params.yaml").read_text()
    env = {**dvc_repo.env, "RESLAB_DATA_MIRROR": "../mirror"}
    proc = subprocess.run([sys.executable, "-m", "reslab.profile", "tiny", "--name", "tiny-1",
                           "--", "train_mlp@2-plain"], cwd=dvc_repo.path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "params.yaml and the workspace are unchanged" in proc.stdout
    assert (dvc_repo.path / "params.yaml").read_text() == before
    exp = dvc_repo.experiments()["tiny-1"]
    params = exp["data"]["params"]["params.yaml"]["data"]
    assert params["runtime"]["wandb_project"] == "a,b"
    assert params["train_mlp"]["train"]["lr"] == 0.02
    live = exp["data"]["metrics"]["live/metrics.json"]["data"]["live"]
    assert live["stage"] == "train_mlp@2-plain/0" and live["epoch"] == live["epochs"] == 2
    assert len(dvc_repo.wandb_runs("tiny-1")) == 1
