"""Interrupted runs resume to the same metrics (and wandb run), never another run's state;
same params give the same results, another seed another."""

import json
import signal
import time
from pathlib import Path

import pytest
import torch

from conftest import MLP, VARIANT
from reslab.core.live import LIVE
from reslab.train import checkpoint

LONG = {"train_mlp": {"train": {"epochs": 20}}}
TIMING = {"train_seconds"}
STATE = Path(f".resume/{VARIANT}.pt")


def metrics_of(ws) -> dict:
    m = json.loads((ws.path / f"metrics/{VARIANT}.json").read_text())
    return {k: v for k, v in m.items() if k not in TIMING}


@pytest.fixture(scope="module")
def reference(workspace_template, tmp_path_factory):
    """One uninterrupted run of the long MLP variant."""
    import shutil

    from conftest import Workspace

    ws = Workspace(tmp_path_factory.mktemp("ref") / "ws")
    shutil.copytree(workspace_template, ws.path)
    ws.set_params(LONG)
    proc = ws.run(*MLP)
    assert proc.returncode == 0, proc.stderr
    return ws


def interrupt_mid_run(workspace, sig, env=None):
    """Start the MLP variant; once an epoch is checkpointed and its progress written, freeze it
    (SIGSTOP), check that it is mid-run (alive, fewer epochs saved than asked for), send `sig`
    and let it go on. Returns (process, stderr, epochs saved)."""
    state, live = workspace.path / STATE, workspace.path / LIVE
    proc = workspace.stage(*MLP, env=env)
    try:
        deadline = time.time() + 120
        while not (state.exists() and live.exists()) and proc.poll() is None \
                and time.time() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        saved = len(checkpoint.load(state)["history"])
        assert 1 <= saved < LONG["train_mlp"]["train"]["epochs"]
        proc.send_signal(sig)
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    return proc, err, saved


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT],
                         ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_interrupted_run_resumes_to_identical_metrics(workspace, reference, sig):
    workspace.set_params(LONG)
    state = workspace.path / STATE
    proc, err, saved = interrupt_mid_run(workspace, sig)
    assert proc.returncode != 0
    assert not (workspace.path / f"metrics/{VARIANT}.json").exists()
    assert state.exists(), "a resumable checkpoint is left"
    # what `dvc exp show` / `dvc plots` read shows the epochs finished before the kill (written
    # right after each epoch's checkpoint, so at most one epoch behind it)
    live = json.loads((workspace.path / LIVE).read_text())
    shown = live["live"]["epoch"]
    assert live["live"]["stage"] == "train_mlp@2-residual/0"
    assert shown >= 1 and shown in (saved, saved - 1)
    assert [row["epoch"] for row in live["history"]] == list(range(1, shown + 1))
    ref_history = (reference.path / f"plots/{VARIANT}.csv").read_text().splitlines()
    assert [f"{row['val_acc']:.6g}" for row in live["history"]] == [
        line.split(",")[4] for line in ref_history[1:shown + 1]]
    if sig != signal.SIGKILL:
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted")
        assert proc.returncode == (130 if sig == signal.SIGINT else 143)
    again = workspace.run(*MLP)
    assert again.returncode == 0, again.stderr
    assert f"resuming after epoch {saved}\n" in again.stdout
    assert metrics_of(workspace) == metrics_of(reference)
    final = json.loads((workspace.path / LIVE).read_text())["live"]
    assert final["epoch"] == metrics_of(reference)["epochs_run"]
    assert final["selected_epoch"] == metrics_of(reference)["selected_epoch"]
    assert not state.exists()


@pytest.mark.slow
def test_resume_never_continues_a_run_on_other_data(workspace):
    """The resume fingerprint holds the inputs' content: another split of the same sizes
    (data.seed 1) starts afresh instead of continuing the interrupted run."""
    from reslab.datasets.imagefolder import read_imagefolder_zip
    from reslab.datasets.prepare import prepare

    workspace.set_params(LONG)
    proc, _, _ = interrupt_mid_run(workspace, signal.SIGKILL)
    assert (workspace.path / STATE).exists()
    zipped = read_imagefolder_zip(workspace.path / "zips/mnist.zip")
    prepare("mnist", zipped, 20, 1, workspace.path / "data/prepared")
    again = workspace.run(*MLP)
    assert again.returncode == 0, again.stderr
    assert "resuming" not in again.stdout
    history = (workspace.path / f"plots/{VARIANT}.csv").read_text().splitlines()
    assert len(history) == 1 + LONG["train_mlp"]["train"]["epochs"]


@pytest.mark.slow
def test_interrupted_wandb_run_is_continued_not_restarted(workspace):
    workspace.set_params({**LONG, "runtime": {"wandb": True}})
    env = {"WANDB_MODE": "offline", "WANDB_DIR": str(workspace.path)}
    id_file = workspace.path / STATE.with_suffix(".wandb.json")
    proc, _, _ = interrupt_mid_run(workspace, signal.SIGTERM, env)
    assert proc.returncode == 143
    run_id = json.loads(id_file.read_text())["id"]
    again = workspace.run(*MLP, env=env)
    assert again.returncode == 0, again.stderr
    assert "resuming after epoch" in again.stdout
    def run_ids():  # offline runs are folders named offline-run-<time>-<id>
        return [p.name.rsplit("-", 1)[1] for p in (workspace.path / "wandb").glob("offline-run-*")]

    assert run_ids() == [run_id, run_id]
    assert not id_file.exists()
    # a finished run leaves no id behind: the next run of the stage is a new wandb run
    assert workspace.run(*MLP, env=env).returncode == 0
    assert len(set(run_ids())) == 2


@pytest.mark.slow
def test_same_params_same_metrics_other_seed_differs(workspace, reference):
    workspace.set_params(LONG)
    assert workspace.run(*MLP).returncode == 0
    assert metrics_of(workspace) == metrics_of(reference)
    for table in (f"plots/{VARIANT}.csv", f"plots/gradflow/{VARIANT}.csv"):
        assert (workspace.path / table).read_text() == (reference.path / table).read_text()
    a = checkpoint.load(workspace.path / f"models/{VARIANT}.pt")["state_dict"]
    b = checkpoint.load(reference.path / f"models/{VARIANT}.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    # a stage of two seeds: each seed's run is the one it makes alone, whatever ran before it
    def seed_1() -> dict:
        m = json.loads((workspace.path / "metrics/train_mlp/2-residual/1.json").read_text())
        return {k: v for k, v in m.items() if k not in TIMING}

    workspace.set_params({"train_mlp": {"seeds": [0, 1]}})
    assert workspace.run(*MLP).returncode == 0
    assert metrics_of(workspace) == metrics_of(reference)
    paired = seed_1()
    assert paired != metrics_of(reference)
    workspace.set_params({"train_mlp": {"seeds": [1]}})
    assert workspace.run(*MLP).returncode == 0
    assert seed_1() == paired
