"""Many variants and many machines, through DVC's own engines: queued experiments run in
parallel without clobbering each other, and results travel through a git remote (a bare
repository) and a DVC remote (a local folder) to a fresh clone that re-trains nothing."""

import time

import pytest

pytestmark = pytest.mark.slow

VARIANT = "train_mlp@2-residual"


def test_two_queued_experiments_run_in_parallel(dvc_repo):
    """... and each keeps its wandb run, in the repository's wandb/, named by the experiment
    (the queue's executors run in copies that DVC deletes)."""
    dvc_repo.log_offline()
    for name, lr in (("q-slow", "0.001"), ("q-fast", "0.05")):
        dvc_repo.dvc("exp", "run", "--queue", "-n", name, "-S", f"train_mlp.train.lr={lr}",
                      VARIANT)
    dvc_repo.dvc("queue", "start", "-j", "2")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = dvc_repo.dvc("queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert status.count("Success") == 2, status + dvc_repo.dvc("queue", "logs", "q-fast").stdout
    found = dvc_repo.experiments()
    losses = []
    for name in ("q-slow", "q-fast"):
        data = found[name]["data"]
        assert data["params"]["params.yaml"]["data"]["train_mlp"]["train"]["lr"] in (0.001, 0.05)
        losses.append(data["metrics"]["live/metrics.json"]["data"]["live"]["min_val_loss"])
    assert losses[0] != losses[1]
    assert [len(dvc_repo.wandb_runs(name)) for name in ("q-slow", "q-fast")] == [1, 1]
    # nothing either run wrote landed in the workspace outside declared outputs or ignores
    assert dvc_repo.run("git", "status", "--porcelain").stdout == ""


def test_results_travel_through_remotes_to_a_clone_that_retrains_nothing(dvc_repo, tmp_path):
    a = dvc_repo
    a.set_params({"improve_cnn": {"depth": 9, "width": 8, "gradflow_batches": 1,
                                  "train": {"epochs": 1, "batch_size": 32}}})
    origin, storage = tmp_path / "origin.git", tmp_path / "storage"
    a.run("git", "init", "-q", "--bare", "-b", "main", str(origin))
    a.run("git", "remote", "add", "origin", str(origin))
    a.dvc("remote", "add", "-d", "shared", str(storage))
    a.dvc("repro", VARIANT, "improve_cnn")
    a.commit("baseline with a remote")
    a.run("git", "push", "-q", "origin", "HEAD:main")
    a.dvc("push", "--with-deps", VARIANT, "improve_cnn")  # the part of the study A ran
    a.dvc("exp", "run", "-n", "shared-exp", "-S", "train_mlp.train.lr=0.02", VARIANT,
          "improve_cnn")
    a.dvc("exp", "push", "origin", "shared-exp")

    b = type(a)(tmp_path / "b", a.env | {"PYTHONPATH": str(tmp_path / "b" / "src")})
    a.run("git", "clone", "-q", "-b", "main", str(origin), str(b.path))
    b.dvc("exp", "pull", "origin", "shared-exp")
    # (`dvc exp apply` would also check out the stages A never ran: promote it to a branch)
    b.dvc("exp", "branch", "shared-exp", "shared")
    b.run("git", "checkout", "-q", "shared")
    b.dvc("pull", "--with-deps", VARIANT, "improve_cnn")
    for path in ("metrics/train_mlp/2-residual/0.json", "models/train_mlp/2-residual/0.pt",
                 "models/improve_cnn/0.pt", "data/prepared/mnist.npz"):
        assert (b.path / path).read_bytes() == (a.path / path).read_bytes(), path
    again = b.dvc("repro", VARIANT, "improve_cnn").stdout
    assert "Running stage 'train_mlp" not in again and "Running stage 'improve_cnn'" not in again
    assert "Running stage 'prepare_data" not in again

    # the improved backbone is an artifact: register a version (a GTO tag), others fetch it
    a.run("git", "tag", "-a", "improve_cnn@v0.1.0", "-m", "backbone for the transfer", "HEAD")
    a.run("git", "push", "-q", "origin", "improve_cnn@v0.1.0")
    fetched = tmp_path / "elsewhere" / "backbone.pt"
    fetched.parent.mkdir()
    got = a.run("python", "-m", "dvc", "artifacts", "get", str(origin), "improve_cnn", "-o",
                str(fetched), check=False)
    assert got.returncode == 0, got.stdout + got.stderr
    assert fetched.read_bytes() == (a.path / "models/improve_cnn/0.pt").read_bytes()
