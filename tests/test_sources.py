"""Where data comes from: mirror zip, then torchvision root, then download; data/source/<name>."""

import os

import numpy as np
import pytest
import torchvision

from conftest import write_mnist_idx
from reslab.core.errors import DataError
from reslab.datasets.imagefolder import read_imagefolder_zip
from reslab.datasets.sources import (
    MIRROR_ENV,
    UNAVAILABLE,
    fetch_torchvision,
    read_source_dir,
    resolve_source,
    sync_dataset,
)
from reslab.datasets.standin import make_imagefolder_zip


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
    raw = fetch_torchvision("mnist", src.path)
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
    assert resolve_source("cifar100", "", root).kind == "download"
    with pytest.raises(DataError) as e:
        fetch_torchvision("cifar100", root)
    msg = str(e.value)
    assert "cifar100: no local copy and the download failed" in msg
    assert "RESLAB_DATA_MIRROR" in msg and "cifar100.zip" in msg and "\n" not in msg
    assert not any(root.iterdir()), "a failed download must leave nothing behind"


def test_sync_mirror_copies_once_and_follows_a_new_archive(tmp_path, monkeypatch):
    mirror, out = tmp_path / "m", tmp_path / "data/source/cifar100"
    make_imagefolder_zip(mirror / "cifar100.zip", classes=4, mode="RGB")
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    (out).mkdir(parents=True)
    (out / "leftover.bin").write_bytes(b"from another source")
    assert sync_dataset("cifar100", out).endswith("(copied)")
    assert sorted(p.name for p in out.iterdir()) == ["cifar100.zip"]
    inode = (out / "cifar100.zip").stat().st_ino
    assert sync_dataset("cifar100", out).endswith("(unchanged)")
    assert (out / "cifar100.zip").stat().st_ino == inode, "an unchanged source is not copied"
    make_imagefolder_zip(mirror / "cifar100.zip", classes=5, mode="RGB", seed=3)
    os.utime(mirror / "cifar100.zip", ns=(1, 1))  # whatever the clock, the time differs
    assert sync_dataset("cifar100", out).endswith("(copied)")
    raw, kind, archive = read_source_dir("cifar100", out)
    assert (kind, archive, len(raw.classes)) == ("imagefolder_zip", "cifar100.zip", 5)


def test_sync_torchvision_root_copies_the_official_files(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path / "root", n_train=20, n_test=10)
    monkeypatch.setenv("RESLAB_TORCHVISION_ROOT", str(tmp_path / "root"))
    out = tmp_path / "source/mnist"
    assert "torchvision_root" in sync_dataset("mnist", out)
    raw, kind, archive = read_source_dir("mnist", out)
    direct = fetch_torchvision("mnist", tmp_path / "root")
    assert (kind, archive) == ("torchvision", None)
    assert np.array_equal(raw.x_train, direct.x_train) and np.array_equal(raw.y_test, direct.y_test)


def test_unavailable_dataset_leaves_its_reason_for_prepare(tmp_path, monkeypatch):
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "cifar100.zip").write_bytes(b"PK\x03\x04 broken")
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    out = tmp_path / "source/cifar100"
    out.mkdir(parents=True)
    (out / "cifar100.zip").write_bytes(b"an older copy")
    line = sync_dataset("cifar100", out)
    assert line.startswith("unavailable:") and "cifar100.zip: not a readable zip archive" in line
    assert [p.name for p in out.iterdir()] == [UNAVAILABLE]
    with pytest.raises(DataError, match=r"m/cifar100.zip: not a readable zip archive"):
        read_source_dir("cifar100", out)


def test_mirror_command_writes_a_zip_the_pipeline_reads(tmp_path):
    from reslab.datasets.mirror import main

    write_mnist_idx(tmp_path / "root", n_train=20, n_test=10)
    assert main([str(tmp_path / "mirror"), "--root", str(tmp_path / "root"),
                 "--datasets", "mnist"]) == 0
    raw = read_imagefolder_zip(tmp_path / "mirror" / "mnist.zip")
    direct = fetch_torchvision("mnist", tmp_path / "root")
    assert raw.classes == direct.classes
    # ImageFolder order is by class, then file: compare as sorted (label, image) pairs
    def pairs(x, y):
        return sorted((int(label), img.tobytes()) for img, label in zip(x, y, strict=True))

    assert pairs(raw.x_train, raw.y_train) == pairs(direct.x_train, direct.y_train)
    assert pairs(raw.x_test, raw.y_test) == pairs(direct.x_test, direct.y_test)


def test_mirror_command_offline_is_one_clear_line(tmp_path, monkeypatch, capsys):
    from reslab.datasets.mirror import main

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url",
                        "http://127.0.0.1:9/cifar-10-python.tar.gz")
    assert main([str(tmp_path / "mirror"), "--root", str(tmp_path / "raw"),
                 "--datasets", "cifar10"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cifar10: no local copy")
    assert not (tmp_path / "mirror" / "cifar10.zip").exists()


def test_standin_from_real_images_is_balanced_rgb_and_marked(tmp_path):
    from reslab.datasets.standin import from_archive

    src = make_imagefolder_zip(tmp_path / "digits.zip", classes=[str(i) for i in range(4)],
                               n_train=9, n_test=5, size=28, mode="L")
    from_archive(tmp_path / "cifar100.zip", src, n_train=6, n_test=3, size=32)
    raw = read_imagefolder_zip(tmp_path / "cifar100.zip")
    assert raw.x_train.shape == (24, 32, 32, 3) and raw.x_test.shape == (12, 32, 32, 3)
    assert np.bincount(raw.y_train).tolist() == [6] * 4 and raw.classes == list("0123")
    assert raw.note.startswith("stand-in from digits.zip") and "not the real dataset" in raw.note
