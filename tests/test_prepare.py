"""The prepared file: arrays, split, manifest, and every bad input named in one line."""

import hashlib
import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from reslab.core.errors import ConfigError, DataError
from reslab.datasets.imagefolder import read_imagefolder_zip
from reslab.datasets.prepare import prepare, split_indices
from reslab.datasets.standin import make_imagefolder_zip


def prepared(tmp_path, name, **kw):
    z = make_imagefolder_zip(tmp_path / f"{name}.zip", **kw)
    raw = read_imagefolder_zip(z)
    manifest = prepare(name, raw, val_size=kw.get("classes", 3) * 2, seed=0,
                       out_dir=tmp_path / "out", source="imagefolder_zip", source_file=z.name)
    return np.load(tmp_path / "out" / f"{name}.npz"), manifest


@pytest.mark.parametrize(("mode", "channels"), [("L", 1), ("RGB", 3)])
def test_prepare_from_zip(tmp_path, mode, channels):
    f, manifest = prepared(tmp_path, "tiny", classes=3, n_train=8, n_test=4, size=8, mode=mode)
    assert f["x_train"].shape == (24, 8, 8, channels) and f["x_train"].dtype == np.uint8
    assert f["x_test"].shape == (12, 8, 8, channels)
    assert f["y_train"].dtype == np.int64 and sorted(set(f["y_test"])) == [0, 1, 2]
    assert list(f["classes"]) == ["c000", "c001", "c002"]
    assert manifest["image_shape"] == [8, 8, channels] and manifest["num_classes"] == 3
    counts = manifest["counts"]
    assert counts["train"]["total"] + counts["val"]["total"] == 24 and counts["val"]["total"] == 6
    assert counts["test"]["per_class"] == {"c000": 4, "c001": 4, "c002": 4}
    x = f["x_train"][f["train_idx"]].reshape(-1, channels) / 255.0
    assert manifest["mean"] == pytest.approx(x.mean(0), abs=1e-5)
    assert manifest["std"] == pytest.approx(x.std(0), abs=1e-5)
    on_disk = json.loads((tmp_path / "out" / "tiny.json").read_text())
    npz = (tmp_path / "out" / "tiny.npz").read_bytes()  # runs fingerprint the manifest for it
    assert on_disk["sha256"] == manifest["sha256"] == hashlib.sha256(npz).hexdigest()


def test_labels_follow_sorted_class_names(tmp_path):
    z = make_imagefolder_zip(tmp_path / "t.zip", classes=["zebra", "apple", "mango"])
    raw = read_imagefolder_zip(z)
    assert raw.classes == ["apple", "mango", "zebra"]
    # the generator draws label-dependent bars: 'zebra' was drawn with label 0 (row 0 bright)
    zebra = raw.x_train[raw.y_train == 2]
    assert (zebra[:, 0:2] == 255).all()


def test_split_seeded_and_disjoint():
    a_tr, a_va = split_indices(100, 20, seed=0)
    b_tr, b_va = split_indices(100, 20, seed=0)
    c_tr, c_va = split_indices(100, 20, seed=1)
    assert np.array_equal(a_va, b_va) and np.array_equal(a_tr, b_tr)
    assert not np.array_equal(a_va, c_va)
    assert len(a_va) == 20 and not set(a_tr) & set(a_va)
    assert sorted(np.concatenate([a_tr, a_va])) == list(range(100))


def test_val_size_too_large():
    with pytest.raises(ConfigError, match=r"data.val_size: 100 is out of range"):
        split_indices(100, 100, seed=0)


def _rewrite(src, dst, drop=(), add=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if not any(item.filename.startswith(d) for d in drop):
                zout.writestr(item, zin.read(item.filename))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def _png(size, mode):
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def bad_archives(tmp_path):
    good = make_imagefolder_zip(tmp_path / "good.zip", classes=3, size=8)
    trunc = tmp_path / "truncated.zip"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip archive")
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    return {
        "truncated": (trunc, "not a readable zip archive"),
        "junk": (junk, "not a readable zip archive"),
        "empty": (empty, "no train/<class>/ folders"),
        "wrong_size": (_rewrite(good, tmp_path / "size.zip",
                                add={"train/c001/zz.png": _png((9, 8), "L")}),
                       "train/c001/zz.png: image is 9x8 L, expected 8x8 L"),
        "wrong_mode": (_rewrite(good, tmp_path / "mode.zip",
                                add={"test/c002/zz.png": _png((8, 8), "RGB")}),
                       "test/c002/zz.png: image is 8x8 RGB, expected 8x8 L"),
        "corrupt_image": (_rewrite(good, tmp_path / "img.zip",
                                   add={"train/c000/zz.png": b"\x89PNG garbage"}),
                          "train/c000/zz.png: unreadable image"),
        "empty_class": (_rewrite(good, tmp_path / "emptycls.zip", drop=["test/c001/"],
                                 add={"test/c001/": b""}),
                        "class folder test/c001/ is empty"),
        "class_lists_differ": (_rewrite(good, tmp_path / "differ.zip", drop=["test/c002/"]),
                               "train and test class lists differ (only in train: ['c002']"),
    }


CASES = ["truncated", "junk", "empty", "wrong_size", "wrong_mode", "corrupt_image", "empty_class",
         "class_lists_differ"]


@pytest.mark.parametrize("case", CASES)
def test_bad_archive_named(tmp_path, case):
    path, message = bad_archives(tmp_path)[case]
    with pytest.raises(DataError) as e:
        read_imagefolder_zip(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value)


def run_stage(tmp_path, mirror, name,
              params="data:\n  datasets: [tiny]\n  val_size: 6\n  test_subset: 0\n  seed: 0\n"):
    """download_data, then prepare_data <name>, as `dvc repro` runs them."""
    (tmp_path / "params.yaml").write_text(params)
    env = {"RESLAB_DATA_MIRROR": str(mirror), "RESLAB_TORCHVISION_ROOT": str(tmp_path / "raw"),
           "PATH": "/usr/bin:/bin", "WANDB_MODE": "disabled"}
    for argv in (["download_data.py"], ["prepare_data.py", name]):
        proc = subprocess.run([sys.executable, str(ROOT / "stages" / argv[0]), *argv[1:]],
                              cwd=tmp_path, env=env, capture_output=True, text=True)
        if proc.returncode:
            break
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("case", ["truncated", "wrong_size", "class_lists_differ"])
def test_stage_bad_input_exits_clean(tmp_path, case):
    path, message = bad_archives(tmp_path)[case]
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path.rename(mirror / "tiny.zip")
    proc = run_stage(tmp_path, mirror, "tiny")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "data" / "prepared").exists() or \
        not any((tmp_path / "data" / "prepared").iterdir())


@pytest.mark.slow
def test_stage_writes_outputs(tmp_path):
    mirror = tmp_path / "mirror"
    make_imagefolder_zip(mirror / "tiny.zip", classes=3, mode="RGB")
    proc = run_stage(tmp_path, mirror, "tiny")
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (tmp_path / "data" / "prepared").iterdir())
    assert files == ["tiny.json", "tiny.npz"]


@pytest.mark.slow
def test_a_dataset_download_data_did_not_bring_is_a_one_line_error(tmp_path):
    """Not in `data.datasets`: no source folder, so preparing it says where it looked."""
    proc = run_stage(tmp_path, tmp_path, "mnist")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: data/source/mnist: no mnist.zip and no torchvision files "
        "(run `dvc repro sources/dvc.yaml:download_data`)"]
    assert not (tmp_path / "data" / "prepared" / "mnist.npz").exists()


@pytest.mark.slow
def test_stage_bad_params(tmp_path):
    proc = run_stage(tmp_path, tmp_path, "tiny",
                     params="data:\n  datasets: [tiny]\n  val_size: -5\n  test_subset: 0\n"
                            "  seed: 0\n")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: data.val_size: -5 is out of range (must be >= 1)"


def test_a_test_subset_is_a_seeded_sample_and_the_manifest_says_of_how_many(tmp_path):
    z = make_imagefolder_zip(tmp_path / "t.zip", classes=3, n_train=8, n_test=10, size=8)
    raw = read_imagefolder_zip(z)
    m = prepare("t", raw, 6, 0, tmp_path / "a", test_subset=12)
    f = np.load(tmp_path / "a/t.npz")
    assert len(f["y_test"]) == 12 and m["counts"]["test"]["total"] == 12 and m["test_of"] == 30
    rows = {raw.x_test[i].tobytes() for i in range(30)}
    assert all(x.tobytes() in rows for x in f["x_test"])  # test images, not training ones
    again = prepare("t", raw, 6, 0, tmp_path / "b", test_subset=12)
    assert again["sha256"] == m["sha256"]  # the same sample every time
    whole = prepare("t", raw, 6, 0, tmp_path / "c", test_subset=99)  # more than there are: all
    assert whole["counts"]["test"]["total"] == 30 and whole["test_of"] == 30


def test_the_manifest_says_whether_a_flip_changes_a_class(tmp_path):
    digits = make_imagefolder_zip(tmp_path / "d.zip", classes=[str(i) for i in range(10)],
                                  n_train=2, n_test=1, size=8)
    m = prepare("d", read_imagefolder_zip(digits), 5, 0, tmp_path / "d")
    assert m["flip_changes_label"] is True
    objects = make_imagefolder_zip(tmp_path / "o.zip", classes=10, n_train=2, n_test=1, size=8)
    assert prepare("o", read_imagefolder_zip(objects), 5, 0, tmp_path / "o")[
        "flip_changes_label"] is False
