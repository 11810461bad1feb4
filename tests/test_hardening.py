"""Hardening: the bad-input battery, safe loading, leakage, secrets."""

import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from conftest import MLP, VARIANT
from project import recipe
from reslab.core.errors import CheckpointError
from reslab.train import checkpoint


def _params(text):
    return lambda ws: (ws.path / "params.yaml").write_text(text)


FEATURES = ("extract_features", "--backbone-seed", "0")


def _override(overrides):
    return lambda ws: ws.set_params(overrides)


def _ckpt(mutate):
    def setup(ws):
        path = ws.path / "models/improve_cnn/0.pt"
        mutate(path)
    return setup


def _mlp_checkpoint(path):
    from reslab.models.mlp import MLP

    net = MLP(depth=2, width=8, residual=False, num_classes=10, in_shape=(28, 28, 1))
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
     ("train_mlp", "--depth", "0", "--arch", "plain"),
     "depth: 0 is out of range (an MLP needs at least 1 layer)"),
    ("CNN depth too small", _override({"train_cnn": {"depths": [8]}}),
     ("train_cnn", "--depth", "8", "--arch", "residual"),
     "depth: 8 is too small for the CNN's three downsamplings (must be >= 9)"),
    ("batch not divisible over DDP workers",
     _override({"train_mlp": {"train": {"batch_size": 7, "nproc_per_node": 2}}}), MLP,
     "train.batch_size: 7 (the global batch) does not divide over 2 processes"),
    ("unknown optimizer", _override({"train_mlp": {"train": {"optimizer": "rmsprop"}}}), MLP,
     "train_mlp.train.optimizer: 'rmsprop' is not one of adam, adamw, sgd, sgd_momentum"),
    ("missing checkpoint", _ckpt(lambda p: p.unlink()), FEATURES,
     "models/improve_cnn/0.pt: checkpoint not found"),
    ("truncated checkpoint", _ckpt(lambda p: p.write_bytes(p.read_bytes()[:2000])),
     FEATURES, "models/improve_cnn/0.pt: corrupt or truncated checkpoint"),
    ("corrupt checkpoint", _ckpt(lambda p: p.write_bytes(os.urandom(4096))),
     FEATURES, "models/improve_cnn/0.pt: corrupt or truncated checkpoint"),
    ("checkpoint of another architecture", _ckpt(_mlp_checkpoint), FEATURES,
     "models/improve_cnn/0.pt: not a CNN checkpoint (arch='mlp')"),
    ("checkpoint of another class count", lambda ws: None,
     ("finetune", "ft0", "--optimizer", "adam"),
     "models/linear_probe/adam/0.pt: checkpoint has num_classes=10, expected 3"),
    ("checkpoint that would run code", _ckpt(lambda p: torch.save({"x": Evil()}, p)),
     FEATURES, "models/improve_cnn/0.pt: refused to load"),
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


# ---------------------------------------------------------------- leakage

@pytest.mark.parametrize("subset", [0, 20])
def test_training_batches_never_hold_a_validation_or_test_image(tmp_path, subset):
    """Every image carries its own id in its pixels; an epoch of the training loader (of the
    whole split or a subset) draws only training-split images, never a validation or test one,
    and the evaluation loaders draw exactly their own split."""
    from reslab.batches.loader import load_prepared
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
    train, val, test = loaders(data, recipe(batch_size=8, eval_batch_size=8), "cpu", 0)

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

    import yaml

    from conftest import ROOT, deep_update, load_script

    stage = load_script(ROOT / "stages/svm_baseline.py")
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 1.5, size=(5, 8))
    arrays = {}
    for name, n in (("train", 150), ("val", 100), ("test", 100)):
        y = np.arange(n) % 5
        arrays[f"{name}_x"] = (centers[y] + rng.normal(0, 1, (n, 8))).astype(np.float32)
        arrays[f"{name}_y"] = y
    (tmp_path / "data/features").mkdir(parents=True)
    params = deep_update(yaml.safe_load((ROOT / "params.yaml").read_text()),
                         {"transfer": {"dataset": "t", "svm_C": [1e-4, 1e-2, 1.0]}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
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
    from reslab.batches.loader import Prepared, Split
    from reslab.train.study import loaders

    calls = []

    def spy(x, g):
        calls.append(len(x))
        return x

    split = Split(torch.zeros(10, 4, 4, 3, dtype=torch.uint8), torch.zeros(10, dtype=torch.long))
    data = Prepared(split, split, split, ["a"], torch.zeros(3), torch.ones(3))
    train, val, test = loaders(data, recipe(batch_size=5, eval_batch_size=5), "cpu", 0, spy)
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
