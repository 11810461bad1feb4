"""Real-data checks on the offline mirror (RESLAB_DATA_MIRROR, else ../shared/datasets).

Marked `slow` and `mirror`: CI names its mirror, so there a missing one fails them; on a machine
without one and without RESLAB_DATA_MIRROR they skip, saying why (tests/conftest.py)."""

import pytest
import torch

from conftest import SHARED_MIRROR
from project import recipe
from reslab.batches.loader import load_prepared
from reslab.datasets.imagefolder import read_imagefolder_zip
from reslab.datasets.prepare import prepare
from reslab.models.mlp import MLP
from reslab.train.engine import evaluate, fit
from reslab.train.study import loaders

pytestmark = [pytest.mark.slow, pytest.mark.mirror]


def prepared(name, tmp_path):
    path = SHARED_MIRROR / f"{name}.zip"
    assert path.exists(), f"no {name}.zip in the offline mirror {SHARED_MIRROR}"
    manifest = prepare(name, read_imagefolder_zip(path), 5000, 0, tmp_path,
                       source="imagefolder_zip", source_file=path.name)
    return manifest, tmp_path / f"{name}.npz"


def test_mnist_mirror(tmp_path):
    manifest, _ = prepared("mnist", tmp_path)
    assert manifest["counts"]["train"]["total"] == 55000
    assert manifest["counts"]["test"]["total"] == 10000
    assert manifest["image_shape"] == [28, 28, 1] and manifest["classes"] == list("0123456789")
    assert manifest["mean"][0] == pytest.approx(0.1307, abs=2e-3)


def test_cifar10_mirror(tmp_path):
    manifest, _ = prepared("cifar10", tmp_path)
    assert manifest["counts"]["train"]["total"] == 45000
    assert manifest["counts"]["val"]["total"] == 5000
    assert manifest["counts"]["test"]["per_class"]["truck"] == 1000
    assert manifest["classes"][:3] == ["airplane", "automobile", "bird"]
    assert manifest["mean"] == pytest.approx([0.4914, 0.4822, 0.4465], abs=3e-3)


def test_residual_mlp_learns_where_plain_collapses(tmp_path):
    """The lab's first phenomenon on real MNIST, small: depth 30, 10k images, 3 epochs."""
    _, npz = prepared("mnist", tmp_path)
    data = load_prepared(npz, train_subset=10000)
    cfg = recipe(optimizer="adam", lr=3e-4, epochs=3, batch_size=64, scheduler="none")
    acc = {}
    for residual in (False, True):
        torch.manual_seed(0)
        model = MLP(depth=30, width=32, residual=residual, num_classes=10, in_shape=(28, 28, 1))
        train, val, test = loaders(data, cfg, torch.device("cpu"), seed=0)
        fit(model, train, val, cfg)
        acc[residual] = evaluate(model, test)["acc"]
    assert acc[True] > 85 and acc[True] - acc[False] > 25, acc
