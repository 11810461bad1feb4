"""Transfer: which parameters train at each rung, frozen BatchNorm, the fast probe, the SVM."""

import json
import os

import numpy as np
import pytest
import torch
from torch import nn

from reslab.config import TrainConfig
from reslab.data.loader import BatchLoader, Prepared, Split
from reslab.models.cnn import CNN
from reslab.train import checkpoint
from reslab.train.engine import fit, run_epoch
from reslab.transfer import RUNGS, extract_features, feature_data, freeze, load_cnn, with_new_head


def backbone(seed=0):
    torch.manual_seed(seed)
    return CNN(11, 4, True, num_classes=10)


def images(n=64, classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 32, 32, 3), generator=g, dtype=torch.uint8),
                 torch.arange(n) % classes)


@pytest.mark.parametrize("stage", sorted(RUNGS))
def test_trainable_parameters_per_rung(stage):
    model = with_new_head(backbone(), 7, seed=0)
    n = RUNGS[stage]
    freeze(model, n)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    blocks = len(model.blocks)
    expected_blocks = {str(i) for i in range(blocks - n, blocks)}
    assert {t.split(".")[0] for t in trainable} == {"head"} | ({"blocks"} if n else set())
    assert {t.split(".")[1] for t in trainable if t.startswith("blocks")} == expected_blocks
    assert model.head.out_features == 7 and model.spec["num_classes"] == 7


def test_frozen_batchnorm_statistics_do_not_move():
    model = with_new_head(backbone(), 5, seed=0)
    freeze(model, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = BatchLoader(images(), 16, torch.full((3,), 0.5), torch.full((3,), 0.25),
                         shuffle=True, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    run_epoch(model, loader, nn.CrossEntropyLoss(), opt)
    after = model.state_dict()
    frozen = [k for k in before if k.startswith(("stem", "blocks.0.", "blocks.3."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    last_bn = "blocks.4.body.1.running_mean"
    assert not torch.equal(before[last_bn], after[last_bn]), "the trained block's BN still moves"
    assert model.training and not model.stem.training and model.blocks[-1].training


def test_fast_probe_equals_slow_path():
    """Training the head on extracted features gives the head that training the whole (frozen,
    eval-mode) network on images gives."""
    data = Prepared(images(64), images(32, seed=1), images(32, seed=2), [f"c{i}" for i in range(5)],
                    torch.full((3,), 0.5), torch.full((3,), 0.25))
    cfg = TrainConfig(optimizer="adam", lr=1e-2, epochs=3, batch_size=16, scheduler="none",
                      wandb=False, device="cpu")

    def loaders(d):
        gen = torch.Generator().manual_seed(0)
        return (BatchLoader(d.train, 16, d.mean, d.std, shuffle=True, generator=gen),
                BatchLoader(d.val, 64, d.mean, d.std))

    slow = with_new_head(backbone(), 5, seed=3)
    freeze(slow, 0)
    slow_result = fit(slow, *loaders(data), cfg)

    fast = with_new_head(backbone(), 5, seed=3)
    freeze(fast, 0)
    feats = {}
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        feats[f"{name}_x"] = extract_features(fast, BatchLoader(split, 64, data.mean, data.std))
        feats[f"{name}_y"] = split.y.numpy()
    fast_result = fit(fast.head, *loaders(feature_data(feats, data.classes)), cfg)

    assert torch.allclose(slow.head.weight, fast.head.weight, atol=1e-5)
    assert [r["val_loss"] for r in fast_result.history] == pytest.approx(
        [r["val_loss"] for r in slow_result.history], abs=1e-5)


def test_load_cnn_checks_spec(tmp_path):
    model = backbone()
    checkpoint.save_model(tmp_path / "b.pt", model, model.spec)
    assert load_cnn(tmp_path / "b.pt").spec == model.spec
    from reslab.errors import CheckpointError

    with pytest.raises(CheckpointError, match="checkpoint has num_classes=10, expected 100"):
        load_cnn(tmp_path / "b.pt", num_classes=100)


def _run_in(tmp_path, main, argv, params):
    import yaml

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        main(argv)
    finally:
        os.chdir(cwd)


def test_svm_stage_on_generated_features(tmp_path):
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("svm_stage", ROOT / "stages/svm_baseline.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(4, 16))

    def split(n):
        y = np.arange(n) % 4
        return (centers[y] + rng.normal(0, 1, size=(n, 16))).astype(np.float32), y

    arrays = {}
    for name, n in (("train", 200), ("val", 80), ("test", 80)):
        arrays[f"{name}_x"], arrays[f"{name}_y"] = split(n)
    (tmp_path / "data/features").mkdir(parents=True)
    np.savez(tmp_path / "data/features/tiny.npz", classes=np.array(list("abcd")), **arrays)
    _run_in(tmp_path, stage.main, [], {"transfer": {"dataset": "tiny", "svm_C": [0.001, 1.0]}})
    metrics = json.loads((tmp_path / "metrics/svm_baseline.json").read_text())
    assert metrics["test_acc"] > 90 and metrics["C"] in (0.001, 1.0)
    assert set(metrics) >= {"test_acc", "val_acc", "C"}


def test_each_rung_starts_from_the_previous_rung(tmp_path):
    """ft1 loads finetune_ft0's checkpoint: with a vanishing learning rate its result is that
    checkpoint (every parameter), not the probe's or the backbone's weights."""
    import importlib.util

    from conftest import ROOT
    from reslab.data.prepare import prepare
    from reslab.data.sources import Source, read_imagefolder_zip
    from reslab.data.standin import make_imagefolder_zip

    z = make_imagefolder_zip(tmp_path / "tiny.zip", classes=6, n_train=6, n_test=2, size=32,
                             mode="RGB")
    prepare("tiny", read_imagefolder_zip(z), Source("mirror", z), 6, 0, tmp_path / "data/prepared")
    start = with_new_head(backbone(seed=5), 6, seed=5)
    with torch.no_grad():
        for p in start.parameters():
            p.normal_()  # weights no other rung could have
    checkpoint.save_model(tmp_path / "models/finetune_ft0/adam.pt", start, start.spec)

    spec = importlib.util.spec_from_file_location("ft_stage", ROOT / "stages/finetune.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    params = {"transfer": {"dataset": "tiny", "finetune": {
        "lr": {"adam": 1e-12}, "train": {"epochs": 1, "batch_size": 8, "wandb": False,
                                         "bf16": False, "channels_last": False}}}}
    _run_in(tmp_path, stage.main, ["ft1", "--optimizer", "adam"], params)
    result = load_cnn(tmp_path / "models/finetune_ft1/adam.pt")
    for (name, p), (_, q) in zip(result.named_parameters(), start.named_parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name
    metrics = json.loads((tmp_path / "metrics/finetune_ft1/adam.json").read_text())
    blocks = sum(p.numel() for b in list(start.blocks)[-2:] for p in b.parameters())
    head = sum(p.numel() for p in start.head.parameters())
    assert metrics["trainable_params"] == blocks + head
