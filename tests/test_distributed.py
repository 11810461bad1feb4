"""Data parallelism on CPU (gloo, 2 processes, tiny data): a stage started with
`train.nproc_per_node: 2` launches its own workers through torch.distributed.run, rank 0 alone
writes, the result matches one process with the same global batch, and a killed run resumes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MLP, ROOT
from reslab.train import checkpoint

pytestmark = pytest.mark.slow

CNN = ("train_cnn", "--depth", "9", "--arch", "residual")
SITECUSTOMIZE = '''
import contextlib, os
import reslab.core.files as files

_atomic_path = files.atomic_path


@contextlib.contextmanager
def logged(path):
    with open(os.environ["RESLAB_WRITE_LOG"], "a") as f:
        f.write(f"{os.environ.get('RANK', 'launcher')} {path}\\n")
    with _atomic_path(path) as tmp:
        yield tmp


files.atomic_path = logged
'''


@pytest.fixture
def ddp_workspace(workspace, tmp_path):
    """The workspace, with every output write logged with the rank that made it."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    workspace.env["PYTHONPATH"] = f"{hook}{os.pathsep}{ROOT / 'src'}"
    workspace.env["RESLAB_WRITE_LOG"] = str(tmp_path / "writes.log")
    workspace.env["OMP_NUM_THREADS"] = "1"
    return workspace


def writes(tmp_path) -> list[tuple[str, str]]:
    log = tmp_path / "writes.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [tuple(line.split(" ", 1)) for line in lines]


def metrics(ws, variant) -> dict:
    return json.loads((ws.path / f"metrics/{variant}.json").read_text())


def run(ws, argv, nproc):
    stage = argv[0]
    ws.set_params({stage: {"train": {"nproc_per_node": nproc}}})
    proc = ws.run(*argv)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_two_processes_match_one_and_only_rank_0_writes(ddp_workspace, tmp_path):
    """Both seeds of the stage train in one launch of the workers, each matching one
    process's run of it."""
    ws = ddp_workspace
    ws.set_params({"train_mlp": {"seeds": [0, 1], "train": {"epochs": 3, "batch_size": 16}}})
    run(ws, MLP, 1)
    single = [metrics(ws, f"train_mlp/2-residual/{s}") for s in (0, 1)]
    (tmp_path / "writes.log").unlink()
    proc = run(ws, MLP, 2)
    assert proc.stdout.count("starting 2 data-parallel workers") == 1
    for seed, one in enumerate(single):
        ddp = metrics(ws, f"train_mlp/2-residual/{seed}")
        for key in ("test_acc", "val_acc_at_min_loss", "max_val_acc"):
            assert abs(ddp[key] - one[key]) <= 0.5, (seed, key, ddp[key], one[key])
        assert ddp["test_loss"] == pytest.approx(one["test_loss"], rel=1e-3)
        assert (one["run"]["world_size"], ddp["run"]["world_size"]) == (1, 2)
    assert single[0]["test_loss"] != single[1]["test_loss"]
    logged = writes(tmp_path)
    written = {Path(p).as_posix() for _, p in logged}
    assert {f"{kind}/train_mlp/2-residual/{s}.{ext}" for s in (0, 1) for kind, ext in (
        ("metrics", "json"), ("models", "pt"), ("plots", "csv"), (".resume", "pt"))} <= written
    assert {rank for rank, _ in logged} == {"0"}, logged


def test_batchnorm_per_rank_stays_within_the_stated_tolerance(ddp_workspace):
    """With BatchNorm each rank normalises its own half batch, so DDP is not bit-equal to one
    process: on this tiny CNN the first epoch's training loss stays within 5% of one
    process's (the README states the same tolerance), and its test loss within 10%."""
    ws = ddp_workspace
    ws.set_params({"train_cnn": {"train": {"epochs": 2, "batch_size": 16, "bf16": False}}})
    run(ws, CNN, 1)
    single = metrics(ws, "train_cnn/9-residual/0")
    first = (ws.path / "plots/train_cnn/9-residual/0.csv").read_text().splitlines()[1]
    run(ws, CNN, 2)
    ddp = metrics(ws, "train_cnn/9-residual/0")
    first_ddp = (ws.path / "plots/train_cnn/9-residual/0.csv").read_text().splitlines()[1]
    loss, loss_ddp = float(first.split(",")[1]), float(first_ddp.split(",")[1])
    assert loss_ddp == pytest.approx(loss, rel=0.05) and loss_ddp != loss
    assert ddp["test_loss"] == pytest.approx(single["test_loss"], rel=0.10)


def test_killed_ddp_run_resumes_to_the_same_metrics(ddp_workspace, tmp_path):
    """SIGKILL to the stage process (what DVC started): its workers, in sessions of their own,
    exit too instead of training on; the re-run resumes and ends where an uninterrupted one
    does."""
    ws = ddp_workspace
    ws.set_params({"train_mlp": {"train": {"epochs": 40, "batch_size": 16}}})
    run(ws, MLP, 2)
    reference = {k: v for k, v in metrics(ws, "train_mlp/2-residual/0").items()
                 if k != "train_seconds"}
    (ws.path / "metrics/train_mlp/2-residual/0.json").unlink()
    state = ws.path / ".resume/train_mlp/2-residual/0.pt"
    proc = ws.stage(*MLP)
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                             text=True).stdout.split()
    assert proc.poll() is None and len(workers) == 2, "killed mid-run, both workers alive"
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.time() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "workers outlived it"
    saved = len(checkpoint.load(state)["history"])
    assert 1 <= saved < 40
    assert not (ws.path / "metrics/train_mlp/2-residual/0.json").exists()
    again = ws.run(*MLP)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming after epoch {saved}" in again.stdout
    resumed = {k: v for k, v in metrics(ws, "train_mlp/2-residual/0").items()
               if k != "train_seconds"}
    assert resumed == reference


def test_a_stage_joins_a_world_torchrun_started(ddp_workspace):
    """Under the user's own `torchrun` (as on several nodes), the stage launches nothing and
    finds its rank and world in the environment."""
    ws = ddp_workspace
    ws.set_params({"train_mlp": {"train": {"epochs": 2, "batch_size": 16}}})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           str(ROOT / "stages/train_mlp.py"), *MLP[1:]]
    proc = subprocess.run(cmd, cwd=ws.path, env=ws.env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "starting 2 data-parallel workers" not in proc.stdout
    assert metrics(ws, "train_mlp/2-residual/0")["epochs_run"] == 2
