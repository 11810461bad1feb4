"""The MLP study through the real DVC CLI on tiny generated data."""

import json

KEYS = {"test_acc", "best_val_acc", "best_epoch", "epochs_run", "n_params", "train_seconds"}


def test_mlp_study_repro_experiment_and_partial_rerun(dvc_repo):
    dvc_repo.dvc("repro", "analyze_mlp")
    root = dvc_repo.path
    for variant in ("2-plain", "2-residual", "4-plain", "4-residual"):
        metrics = json.loads((root / f"metrics/train_mlp/{variant}.json").read_text())
        assert set(metrics) >= KEYS and metrics["epochs_run"] == 2
        assert (root / f"models/train_mlp/{variant}.pt").stat().st_size > 0
        header = (root / f"plots/train_mlp/{variant}.csv").read_text().splitlines()[0]
        assert header == "epoch,train_loss,train_acc,val_loss,val_acc,lr"
        assert "init" in (root / f"plots/gradflow/train_mlp/{variant}.csv").read_text()
    figures = sorted(p.name for p in (root / "plots/figures/train_mlp").iterdir())
    assert figures == ["accuracy_vs_depth.png", "gradflow_depth2.png", "gradflow_depth4.png"]
    summary = json.loads((root / "metrics/analyze/train_mlp.json").read_text())
    assert set(summary) == {"2", "4"} and "init_first_layer_grad_ratio" in summary["4"]

    shown = dvc_repo.dvc("metrics", "show", "--json").stdout
    assert "metrics/train_mlp/4-residual.json" in shown
    plots = dvc_repo.dvc("plots", "show", "--json", "plots/train_mlp").stdout
    assert "plots/train_mlp/4-residual.csv" in plots and "val_acc" in plots
    assert not dvc_repo.resume_dir_has_files()
    dvc_repo.commit("baseline run")

    # an experiment with one param changed, compared with `dvc metrics diff`
    dvc_repo.dvc("exp", "run", "-n", "fast-lr", "-S", "train_mlp.train.lr=0.01", "analyze_mlp")
    diff = json.loads(dvc_repo.dvc("metrics", "diff", "--json").stdout)
    assert "metrics/train_mlp/4-residual.json" in diff
    assert "test_acc" in diff["metrics/train_mlp/4-residual.json"]
    table = dvc_repo.dvc("exp", "show", "--no-pager", "--csv").stdout
    assert "fast-lr" in table
    dvc_repo.run("git", "reset", "-q", "--hard")
    dvc_repo.dvc("checkout", "--force", "train_mlp", "analyze_mlp")

    # changing one depth re-runs only the variants of that depth (and the analysis)
    dvc_repo.set_params({"train_mlp": {"depths": [2, 3]}})
    status = json.loads(dvc_repo.dvc("status", "--json").stdout)
    assert {"train_mlp@3-plain", "train_mlp@3-residual", "analyze_mlp"} <= set(status)
    assert not {"train_mlp@2-plain", "train_mlp@2-residual"} & set(status)
