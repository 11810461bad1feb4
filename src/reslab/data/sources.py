"""Where a dataset's bytes come from, in order: a local mirror zip, a torchvision root, a download.

Every source yields the same `RawDataset`: uint8 images (N, H, W, C), int64 labels and the class
names, for the published train and test sets.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from reslab.errors import DataError

MIRROR_ENV = "RESLAB_DATA_MIRROR"
ROOT_ENV = "RESLAB_TORCHVISION_ROOT"
DEFAULT_ROOT = Path("data/raw")
DOWNLOAD_TIMEOUT_S = 30


@dataclass
class RawDataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    note: str = ""  # an archive's comment, e.g. that it is a generated stand-in


@dataclass(frozen=True)
class Source:
    kind: str  # "mirror" | "torchvision_root" | "download"
    path: Path  # the zip for a mirror, the data root otherwise


def _torchvision_class(name: str):
    from torchvision import datasets

    return {"mnist": datasets.MNIST, "cifar10": datasets.CIFAR10,
            "cifar100": datasets.CIFAR100}.get(name)


def resolve_source(name: str, mirror: str | None = None, root: Path | None = None) -> Source:
    """Pick the first available source for `name` (mirror, then torchvision root, then download)."""
    mirror = os.environ.get(MIRROR_ENV) if mirror is None else mirror
    root = Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT)) if root is None else Path(root)
    if mirror:
        if not Path(mirror).is_dir():
            raise DataError(f"{MIRROR_ENV}={mirror}: not a directory")
        archive = Path(mirror) / f"{name}.zip"
        if archive.exists():
            return Source("mirror", archive)
    if _torchvision_class(name) is None:
        raise DataError(
            f"{name}: no {name}.zip in the mirror ({MIRROR_ENV}={mirror or 'unset'}) and "
            f"torchvision has no dataset of that name"
        )
    if _load_torchvision(name, root, download=False) is not None:
        return Source("torchvision_root", root)
    return Source("download", root)


def load_source(name: str, source: Source) -> RawDataset:
    if source.kind == "mirror":
        return read_imagefolder_zip(source.path)
    if source.kind == "torchvision_root":
        return _load_torchvision(name, source.path, download=False)
    return _download(name, source.path)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- torchvision (root or download)

def _load_torchvision(name: str, root: Path, download: bool) -> RawDataset | None:
    """The official files through torchvision; None when they are not under `root`."""
    cls = _torchvision_class(name)
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        return None

    def arrays(ds):
        x = np.asarray(ds.data, dtype=np.uint8)
        x = x[..., None] if x.ndim == 3 else x
        return np.ascontiguousarray(x), np.asarray(ds.targets, dtype=np.int64)

    (xtr, ytr), (xte, yte) = arrays(train), arrays(test)
    return RawDataset(xtr, ytr, xte, yte, list(train.classes))


def _download(name: str, root: Path) -> RawDataset:
    """Download into a scratch folder and move it under `root` only once it is complete."""
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".download-{name}-", dir=root))
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        raw = _load_torchvision(name, scratch, download=True)
        if raw is None:
            raise RuntimeError("downloaded files failed torchvision's integrity check")
    except Exception as e:  # network errors come in many types (URLError, OSError, HTTPError)
        shutil.rmtree(scratch, ignore_errors=True)
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(
            f"{name}: no local copy and the download failed ({reason}). To run offline, set "
            f"{MIRROR_ENV} to a folder holding {name}.zip (ImageFolder layout: train/<class>/*, "
            f"test/<class>/*) or put the official torchvision files under {root}"
        ) from None
    finally:
        socket.setdefaulttimeout(old_timeout)
    for item in scratch.iterdir():
        target = root / item.name
        if not target.exists():
            os.replace(item, target)
    shutil.rmtree(scratch, ignore_errors=True)
    return raw


# ---------------------------------------------------------------- ImageFolder zip (local mirror)

def _index_zip(path: Path, zf: zipfile.ZipFile) -> dict[str, dict[str, list[str]]]:
    """split -> class -> sorted member names, checking the ImageFolder layout."""
    layout: dict[str, dict[str, list[str]]] = {"train": defaultdict(list), "test": defaultdict(list)}
    for member in zf.namelist():
        parts = [p for p in member.split("/") if p]
        if len(parts) < 2 or parts[0] not in layout:
            continue
        if member.endswith("/"):
            if len(parts) == 2:
                layout[parts[0]].setdefault(parts[1], [])
            continue
        if len(parts) != 3:
            raise DataError(f"{path}: {member}: expected <split>/<class>/<file>")
        layout[parts[0]][parts[1]].append(member)
    for split, classes in layout.items():
        if not classes:
            raise DataError(f"{path}: no {split}/<class>/ folders (ImageFolder layout expected)")
        for cls, members in sorted(classes.items()):
            if not members:
                raise DataError(f"{path}: class folder {split}/{cls}/ is empty")
            members.sort()
    if sorted(layout["train"]) != sorted(layout["test"]):
        only_train = sorted(set(layout["train"]) - set(layout["test"]))
        only_test = sorted(set(layout["test"]) - set(layout["train"]))
        raise DataError(
            f"{path}: train and test class lists differ (only in train: {only_train or '-'}; "
            f"only in test: {only_test or '-'})"
        )
    return layout


def _decode(path: Path, zf: zipfile.ZipFile, member: str) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(zf.read(member)))
        img.load()
    except (UnidentifiedImageError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: {member}: unreadable image ({e})") from None
    return img


def read_imagefolder_zip(path: Path) -> RawDataset:
    """Read `train/<class>/<file>` and `test/<class>/<file>` images straight from the archive.

    All images must share the first image's size and mode (L or RGB); class index is the
    position of the class name in sorted order, as torchvision's ImageFolder does.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: not a readable zip archive ({e})") from None
    with zf:
        layout = _index_zip(path, zf)
        classes = sorted(layout["train"])
        first_member = layout["train"][classes[0]][0]
        first = _decode(path, zf, first_member)
        if first.mode not in ("L", "RGB"):
            raise DataError(f"{path}: {first_member}: image mode {first.mode}, expected L or RGB")
        w, h = first.size
        channels = 1 if first.mode == "L" else 3
        out = {}
        for split in ("train", "test"):
            members = [(m, i) for i, c in enumerate(classes) for m in layout[split][c]]
            x = np.empty((len(members), h, w, channels), dtype=np.uint8)
            y = np.empty(len(members), dtype=np.int64)
            for k, (member, label) in enumerate(members):
                img = _decode(path, zf, member)
                if img.size != (w, h) or img.mode != first.mode:
                    raise DataError(
                        f"{path}: {member}: image is {img.size[0]}x{img.size[1]} {img.mode}, "
                        f"expected {w}x{h} {first.mode} like {first_member}"
                    )
                x[k] = np.asarray(img).reshape(h, w, channels)
                y[k] = label
            out[split] = (x, y)
        note = zf.comment.decode("utf-8", "replace").strip()
    return RawDataset(*out["train"], *out["test"], classes, note)
