"""`dvc repro prepare_data@<name>` for real, in a temporary git + DVC repo: the tracked
download step first, then preparation; one dataset failing blocks no other."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_dvc_repro_prepare_data(dvc_repo):
    first = dvc_repo.dvc("repro", "prepare_data@mnist", "prepare_data@cifar100").stdout
    assert "Running stage 'sources/dvc.yaml:download_data'" in first
    manifest = json.loads((dvc_repo.path / "data/prepared/cifar100.json").read_text())
    assert manifest["num_classes"] == 20 and manifest["image_shape"] == [32, 32, 3]
    assert manifest["counts"]["val"]["total"] == 20
    assert (manifest["source"], manifest["source_file"]) == ("imagefolder_zip", "cifar100.zip")
    assert sorted(p.name for p in (dvc_repo.path / "data/source").iterdir()) == [
        "cifar10", "cifar100", "mnist"]
    again = dvc_repo.dvc("repro", "prepare_data@mnist").stdout
    assert "Stage 'prepare_data@mnist' didn't change, skipping" in again


def test_one_dataset_failing_does_not_block_others(dvc_repo):
    (dvc_repo.path.parent / "mirror" / "cifar10.zip").write_bytes(b"corrupt")
    proc = dvc_repo.dvc("repro", "--keep-going", "prepare_data", check=False)
    assert proc.returncode != 0
    assert "cifar10.zip: not a readable zip archive" in proc.stderr + proc.stdout
    prepared = sorted(p.name for p in (dvc_repo.path / "data/prepared").iterdir())
    assert prepared == ["cifar100.json", "cifar100.npz", "mnist.json", "mnist.npz"]
