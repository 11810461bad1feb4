"""Where data comes from: mirror zip, then torchvision root, then download."""

import pytest
import torchvision

from conftest import write_mnist_idx
from reslab.data.sources import MIRROR_ENV, load_source, resolve_source
from reslab.data.standin import make_imagefolder_zip
from reslab.errors import DataError


def test_mirror_first(tmp_path):
    make_imagefolder_zip(tmp_path / "m" / "mnist.zip", size=28)
    write_mnist_idx(tmp_path / "root")
    src = resolve_source("mnist", str(tmp_path / "m"), tmp_path / "root")
    assert (src.kind, src.path.name) == ("mirror", "mnist.zip")


def test_torchvision_root_second(tmp_path):
    (tmp_path / "m").mkdir()  # a mirror without mnist.zip
    write_mnist_idx(tmp_path / "root", n_train=20, n_test=10)
    src = resolve_source("mnist", str(tmp_path / "m"), tmp_path / "root")
    assert src.kind == "torchvision_root"
    raw = load_source("mnist", src)
    assert raw.x_train.shape == (20, 28, 28, 1) and raw.x_test.shape == (10, 28, 28, 1)
    assert raw.y_train.dtype.name == "int64" and len(raw.classes) == 10


def test_download_last(tmp_path):
    assert resolve_source("cifar100", "", tmp_path / "empty").kind == "download"


def test_env_mirror_used(tmp_path, monkeypatch):
    make_imagefolder_zip(tmp_path / "m" / "cifar100.zip", mode="RGB")
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "m"))
    assert resolve_source("cifar100", root=tmp_path / "r").kind == "mirror"


def test_mirror_not_a_directory(tmp_path):
    with pytest.raises(DataError, match="RESLAB_DATA_MIRROR=.*: not a directory"):
        resolve_source("mnist", str(tmp_path / "missing"), tmp_path)


def test_unknown_dataset_without_mirror(tmp_path):
    with pytest.raises(DataError, match="svhn: no svhn.zip in the mirror"):
        resolve_source("svhn", "", tmp_path)


def test_offline_download_fails_fast_and_clean(tmp_path, monkeypatch):
    # port 9 on loopback refuses at once: the same path as a machine with no network
    monkeypatch.setattr(torchvision.datasets.CIFAR100, "url",
                        "http://127.0.0.1:9/cifar-100-python.tar.gz")
    root = tmp_path / "raw"
    src = resolve_source("cifar100", "", root)
    with pytest.raises(DataError) as e:
        load_source("cifar100", src)
    msg = str(e.value)
    assert "cifar100: no local copy and the download failed" in msg
    assert "RESLAB_DATA_MIRROR" in msg and "cifar100.zip" in msg and "\n" not in msg
    assert not any(root.iterdir()), "a failed download must leave nothing behind"
