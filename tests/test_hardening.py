"""Hardening: bad input battery, interrupted runs, determinism, leakage, safe loading, secrets."""

import json
import os
import pickle
import signal
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from reslab.core.errors import CheckpointError
from reslab.train import checkpoint

MLP = ("train_mlp", "--depth", "2", "--arch", "residual", "--seed", "0")
VARIANT = "train_mlp/2-residual-0"


def _params(text):
    return lambda ws: (ws.path / "params.yaml").write_text(text)


def _override(overrides):
    return lambda ws: ws.set_params(overrides)


def _ckpt(mutate):
    def setup(ws):
        path = ws.path / "models/improve_cnn.pt"
        mutate(path)
    return setup


def _mlp_checkpoint(path):
    from reslab.models.mlp import MLP as Net

    net = Net(2, 8)
    checkpoint.save_model(path, net, net.spec)


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _mirror(content):
    """A broken archive in the mirror, then download_data as `dvc repro` runs it first: it
    records why cifar100 is unavailable, and prepare_data reports it."""
    def setup(ws):
        (ws.path / "mirror").mkdir()
        content(ws.path / "mirror" / "cifar100.zip")
        ws.set_params({"data": {"datasets": ["cifar100"]}})
        proc = ws.run("download_data", env={"RESLAB_DATA_MIRROR": str(ws.path / "mirror")})
        assert proc.returncode == 0, proc.stderr
    return setup


# (case, setup, stage argv, expected message part)
BATTERY = [
    ("malformed params", _params("train_mlp: [unclosed\n"), MLP,
     "params.yaml: malformed YAML at line 2"),
    ("unknown key", _override({"train_mlp": {"train": {"lrr": 0.1}}}), MLP,
     "train_mlp.train.lrr: unknown key"),
    ("wrong type", _override({"train_mlp": {"width": "wide"}}), MLP,
     "train_mlp.width: expected int, got 'wide'"),
    ("negative lr", _override({"train_mlp": {"train": {"lr": -0.01}}}), MLP,
     "train_mlp.train.lr: -0.01 is out of range (must be > 0)"),
    ("depth 0", _override({"train_mlp": {"depths": [0, 2]}}),
     ("train_mlp", "--depth", "0", "--arch", "plain", "--seed", "0"),
     "train_mlp.depths[0]: 0 is out of range (must be >= 1)"),
    ("CNN depth too small", _override({"train_cnn": {"depths": [8]}}),
     ("train_cnn", "--depth", "8", "--arch", "residual", "--seed", "0"),
     "train_cnn.depths[0]: 8 is out of range (must be >= 9)"),
    ("batch not divisible over DDP workers",
     _override({"train_mlp": {"train": {"batch_size": 7, "nproc_per_node": 2}}}), MLP,
     "train.batch_size: 7 (the global batch) does not divide over 2 processes"),
    ("unknown optimizer", _override({"train_mlp": {"train": {"optimizer": "rmsprop"}}}), MLP,
     "train_mlp.train.optimizer: 'rmsprop' is not one of adam, adamw, sgd, sgd_momentum"),
    ("missing checkpoint", _ckpt(lambda p: p.unlink()), ("extract_features",),
     "models/improve_cnn.pt: checkpoint not found"),
    ("truncated checkpoint", _ckpt(lambda p: p.write_bytes(p.read_bytes()[:2000])),
     ("extract_features",), "models/improve_cnn.pt: corrupt or truncated checkpoint"),
    ("corrupt checkpoint", _ckpt(lambda p: p.write_bytes(os.urandom(4096))),
     ("extract_features",), "models/improve_cnn.pt: corrupt or truncated checkpoint"),
    ("checkpoint of another architecture", _ckpt(_mlp_checkpoint), ("extract_features",),
     "models/improve_cnn.pt: not a CNN checkpoint (arch='mlp')"),
    ("checkpoint of another class count", lambda ws: None,
     ("finetune", "ft0", "--optimizer", "adam"),
     "models/linear_probe/adam.pt: checkpoint has num_classes=10, expected 3"),
    ("checkpoint that would run code", _ckpt(lambda p: torch.save({"x": Evil()}, p)),
     ("extract_features",), "models/improve_cnn.pt: refused to load"),
    ("missing prepared dataset", lambda ws: (ws.path / "data/prepared/mnist.npz").unlink(), MLP,
     "data/prepared/mnist.npz: prepared dataset not found"),
    ("empty archive in the mirror", _mirror(lambda p: zipfile.ZipFile(p, "w").close()),
     ("prepare_data", "cifar100"), "cifar100.zip: no train/<class>/ folders"),
    ("corrupt archive in the mirror", _mirror(lambda p: p.write_bytes(b"PK\x03\x04garbage")),
     ("prepare_data", "cifar100"), "cifar100.zip: not a readable zip archive"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("case", "setup", "argv", "message"), BATTERY, ids=[b[0] for b in BATTERY])
def test_bad_input(workspace, case, setup, argv, message):
    setup(workspace)
    before = workspace.snapshot()
    env = {"RESLAB_DATA_MIRROR": str(workspace.path / "mirror")} if argv[0] == "prepare_data" \
        else None
    proc = workspace.run(*argv, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert message in lines[0]
    assert workspace.snapshot() == before, "a failed stage must not write or touch anything"
    assert not (workspace.path / "pwned").exists()


def test_unsafe_pickle_is_refused_in_process(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused to load"):
        checkpoint.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
    # the same bytes with plain pickle would have run the command: the guard is real
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(Evil(), f)
    assert pickle.loads((tmp_path / "evil.pkl").read_bytes()) == 0
    assert (tmp_path / "pwned").exists()


# ---------------------------------------------------------------- interrupted runs, determinism

LONG = {"train_mlp": {"train": {"epochs": 30}}}
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
    """Start the MLP variant; once an epoch is checkpointed, freeze it (SIGSTOP), check that it
    is mid-run (alive, fewer epochs saved than asked for), send `sig` and let it go on.
    Returns (process, stderr, epochs saved)."""
    state = workspace.path / STATE
    proc = workspace.stage(*MLP, env=env)
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGSTOP)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    saved = len(checkpoint.load(state)["history"])
    assert 1 <= saved < LONG["train_mlp"]["train"]["epochs"]
    proc.send_signal(sig)
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
    if sig != signal.SIGKILL:
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted")
        assert proc.returncode == (130 if sig == signal.SIGINT else 143)
    again = workspace.run(*MLP)
    assert again.returncode == 0, again.stderr
    assert f"resuming after epoch {saved}\n" in again.stdout
    assert metrics_of(workspace) == metrics_of(reference)
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

    assert workspace.run(*MLP[:-1], "1").returncode == 0
    other = json.loads((workspace.path / "metrics/train_mlp/2-residual-1.json").read_text())
    assert {k: v for k, v in other.items() if k not in TIMING} != metrics_of(reference)


# ---------------------------------------------------------------- leakage

@pytest.mark.parametrize("subset", [0, 20])
def test_training_batches_never_hold_a_validation_or_test_image(tmp_path, subset):
    """Every image carries its own id in its pixels; an epoch of the training loader (of the
    whole split or a subset) draws only training-split images, never a validation or test one,
    and the evaluation loaders draw exactly their own split."""
    from reslab.core.config import TrainConfig
    from reslab.data.loader import load_prepared
    from reslab.datasets.imagefolder import RawDataset
    from reslab.datasets.prepare import prepare
    from reslab.train.study import loaders

    def with_ids(ids):
        x = np.zeros((len(ids), 2, 2, 1), dtype=np.uint8)
        x[:, 0, 0, 0] = ids
        return x

    y_train, y_test = np.arange(80) % 4, np.arange(30) % 4
    raw = RawDataset(with_ids(np.arange(80)), y_train, with_ids(np.arange(100, 130)), y_test,
                     list("abcd"))
    prepare("ids", raw, 15, 0, tmp_path)
    with np.load(tmp_path / "ids.npz") as f:
        train_ids, val_ids = set(f["train_idx"].tolist()), set(f["val_idx"].tolist())
    data = load_prepared(tmp_path / "ids.npz", subset)
    data.mean, data.std = torch.zeros(1), torch.ones(1) / 255  # inputs read back as ids
    train, val, test = loaders(data, TrainConfig(batch_size=8, eval_batch_size=8), "cpu", 0)

    def ids(loader):
        return [round(v) for x, _ in loader for v in x[:, 0, 0, 0].tolist()]

    drawn = ids(train)
    assert len(drawn) == len(set(drawn)) == (subset or len(train_ids))
    assert set(drawn) <= train_ids and not set(drawn) & val_ids
    assert not set(drawn) & set(range(100, 130))
    assert set(ids(val)) == val_ids and set(ids(test)) == set(range(100, 130))


@pytest.mark.slow
def test_test_split_never_selects_the_model(workspace):
    """Scrambling the test labels changes test accuracy only: the chosen epoch, the validation
    numbers and the weights are the same."""
    assert workspace.run(*MLP).returncode == 0
    clean = json.loads((workspace.path / f"metrics/{VARIANT}.json").read_text())
    weights = checkpoint.load(workspace.path / f"models/{VARIANT}.pt")["state_dict"]
    path = workspace.path / "data/prepared/mnist.npz"
    with np.load(path) as f:
        arrays = dict(f)
    arrays["y_test"] = np.random.default_rng(0).permutation(arrays["y_test"])
    np.savez(path, **arrays)
    assert workspace.run(*MLP).returncode == 0
    scrambled = json.loads((workspace.path / f"metrics/{VARIANT}.json").read_text())
    for key in ("selected_epoch", "val_acc_at_min_loss", "min_val_loss", "epochs_run"):
        assert scrambled[key] == clean[key]
    assert scrambled["test_acc"] != clean["test_acc"]
    again = checkpoint.load(workspace.path / f"models/{VARIANT}.pt")["state_dict"]
    assert all(torch.equal(weights[k], again[k]) for k in weights)


def test_svm_choice_looks_only_at_val(tmp_path, monkeypatch):
    """Whatever the test labels say, C is chosen on val."""
    import importlib.util

    import yaml

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("svm_stage", ROOT / "stages/svm_baseline.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 1.5, size=(5, 8))
    arrays = {}
    for name, n in (("train", 150), ("val", 100), ("test", 100)):
        y = np.arange(n) % 5
        arrays[f"{name}_x"] = (centers[y] + rng.normal(0, 1, (n, 8))).astype(np.float32)
        arrays[f"{name}_y"] = y
    (tmp_path / "data/features").mkdir(parents=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"transfer": {"dataset": "t", "svm_C": [1e-4, 1e-2, 1.0]}}))
    monkeypatch.chdir(tmp_path)
    chosen = []
    for test_y in (arrays["test_y"], rng.permutation(arrays["test_y"])):
        np.savez(tmp_path / "data/features/t.npz", classes=np.arange(5), **{**arrays,
                                                                           "test_y": test_y})
        stage.main([])
        m = json.loads((tmp_path / "metrics/svm_baseline.json").read_text())
        chosen.append((m["C"], m["val_acc"]))
    assert chosen[0] == chosen[1]


def test_eval_loaders_never_augment():
    from reslab.core.config import TrainConfig
    from reslab.data.loader import Prepared, Split
    from reslab.train.study import loaders

    calls = []

    def spy(x, g):
        calls.append(len(x))
        return x

    split = Split(torch.zeros(10, 4, 4, 3, dtype=torch.uint8), torch.zeros(10, dtype=torch.long))
    data = Prepared(split, split, split, ["a"], torch.zeros(3), torch.ones(3))
    train, val, test = loaders(data, TrainConfig(batch_size=5, eval_batch_size=5), "cpu", 0, spy)
    list(val), list(test)
    assert calls == []
    list(train)
    assert calls == [5, 5]


# ---------------------------------------------------------------- secrets

@pytest.mark.slow
def test_no_secret_from_the_environment_is_written(workspace):
    secret = "sk-reslab-test-" + "9" * 32
    workspace.set_params({"runtime": {"wandb": True}})
    proc = workspace.run(*MLP, env={"WANDB_MODE": "offline", "WANDB_API_KEY": secret,
                                    "HF_TOKEN": secret, "WANDB_DIR": str(workspace.path)})
    assert proc.returncode == 0, proc.stderr
    assert (workspace.path / "wandb").is_dir()
    for name, content in workspace.snapshot().items():
        assert secret.encode() not in content, name
    assert secret not in proc.stdout + proc.stderr
