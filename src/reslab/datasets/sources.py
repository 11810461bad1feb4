"""Where a dataset's bytes come from, in order: a local mirror zip, a torchvision root, a download.

`sync_dataset` brings the first one found into `data/source/<name>/` (the `download_data`
stage's output, so DVC sees the data's content), and `read_source_dir` decodes that folder into
a `RawDataset`: uint8 images (N, H, W, C), int64 labels and the class names, for the published
train and test sets.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reslab.core.errors import DataError
from reslab.core.files import atomic_path
from reslab.datasets.imagefolder import RawDataset, index_zip, open_zip, read_imagefolder_zip

MIRROR_ENV = "RESLAB_DATA_MIRROR"
ROOT_ENV = "RESLAB_TORCHVISION_ROOT"
DEFAULT_ROOT = Path("data/raw")
DOWNLOAD_TIMEOUT_S = 30
UNAVAILABLE = "UNAVAILABLE.txt"  # left in data/source/<name>/ when no source could be had


@dataclass(frozen=True)
class Source:
    kind: str  # "mirror" | "torchvision_root" | "download"
    path: Path  # the zip for a mirror, the data root otherwise


def _torchvision_class(name: str):
    from torchvision import datasets

    return {"mnist": datasets.MNIST, "cifar10": datasets.CIFAR10,
            "cifar100": datasets.CIFAR100}.get(name)


def _dataset_folder(name: str) -> str:
    """The folder under a torchvision root that holds `name`'s files."""
    cls = _torchvision_class(name)
    return getattr(cls, "base_folder", cls.__name__)


def _has_torchvision_files(name: str, root: Path) -> bool:
    """Whether `root` holds `name`'s torchvision folder (checked cheaply: the stage that reads
    it, prepare_data, decodes and verifies the files)."""
    folder = root / _dataset_folder(name)
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


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
    if _has_torchvision_files(name, root):
        return Source("torchvision_root", root)
    return Source("download", root)


def sync_source(name: str, source: Source, out: Path) -> str:
    """Make `out` hold exactly `source`'s files for `name`; cheap when they are already there.

    A mirror zip that changed (size or time) is checked (a readable ImageFolder archive) and
    copied; a torchvision root's dataset folder is copied likewise; otherwise torchvision
    downloads into `out` once (present files are kept; prepare_data decodes and verifies them).
    Anything else in `out` is removed. Returns what was done, for the stage's log line.
    """
    out.mkdir(parents=True, exist_ok=True)
    if source.kind == "mirror":
        keep = {f"{name}.zip"}
        done = _copy_if_changed(source.path, out / f"{name}.zip", check=_check_archive)
    elif source.kind == "torchvision_root":
        folder = _dataset_folder(name)
        keep = {folder}
        done = "unchanged"
        for src in sorted(p for p in (source.path / folder).rglob("*") if p.is_file()):
            rel = src.relative_to(source.path)
            if _copy_if_changed(src, out / rel) == "copied":
                done = "copied"
    else:
        keep = {_dataset_folder(name)}  # not the archive torchvision downloaded it as
        done = "unchanged"
        if not _has_torchvision_files(name, out):  # a download lands only once complete
            _download(name, out)
            done = "downloaded"
    for stale in set(p.name for p in out.iterdir()) - keep:
        path = out / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return done


def sync_dataset(name: str, folder: Path) -> str:
    """Bring `name`'s first available source into `folder`; return a line saying what was done.

    When none can be had (offline, say, or a broken mirror archive), `folder` keeps only
    UNAVAILABLE.txt with the reason: that dataset's preparation then fails with it, while the
    other datasets go on.
    """
    try:
        source = resolve_source(name)
        return f"{source.kind} {source.path} ({sync_source(name, source, folder)})"
    except DataError as e:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / UNAVAILABLE).write_text(f"{e}\n")
        return f"unavailable: {e}"


def read_source_dir(name: str, folder: Path) -> tuple[RawDataset, str, str | None]:
    """Decode what `sync_dataset` wrote: (dataset, source kind, archive file name or None)."""
    if (folder / UNAVAILABLE).exists():
        raise DataError((folder / UNAVAILABLE).read_text().strip())
    archive = folder / f"{name}.zip"
    if archive.exists():
        return read_imagefolder_zip(archive), "imagefolder_zip", archive.name
    raw = _load_torchvision(name, folder, download=False) if _torchvision_class(name) else None
    if raw is None:
        raise DataError(f"{folder}: no {name}.zip and no torchvision files "
                        "(run `dvc repro sources/dvc.yaml:download_data`)")
    return raw, "torchvision", None


def fetch_torchvision(name: str, root: Path) -> RawDataset:
    """`name` through torchvision: from the official files under `root`, else downloaded there."""
    if _torchvision_class(name) is None:
        raise DataError(f"{name}: torchvision has no dataset of that name")
    raw = _load_torchvision(name, root, download=False)
    return raw if raw is not None else _download(name, root)


def _check_archive(path: Path) -> None:
    """A readable ImageFolder zip, checked from its directory alone (no image decoded)."""
    with open_zip(path) as zf:
        index_zip(path, zf)


def _copy_if_changed(src: Path, dst: Path, check=None) -> str:
    """Copy `src` to `dst` (atomically, keeping its mtime) unless size and mtime already match;
    `check(src)` runs first, and only when there is something to copy."""
    s = src.stat()
    if dst.exists():
        d = dst.stat()
        if (d.st_size, d.st_mtime_ns) == (s.st_size, s.st_mtime_ns):
            return "unchanged"
    if check is not None:
        check(src)
    with atomic_path(dst) as tmp:
        shutil.copy2(src, tmp)
    return "copied"


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
