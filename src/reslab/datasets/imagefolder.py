"""ImageFolder zips (`train/<class>/<file>`, `test/<class>/<file>`): the offline mirror format.

Read straight from the archive without unpacking; class index = position of the class name in
sorted order, as torchvision's ImageFolder does. `write_imagefolder_zip` makes such an archive
from arrays (the generated stand-ins and `python -m reslab.datasets.mirror`).
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from reslab.core.errors import DataError
from reslab.core.files import atomic_path


@dataclass
class RawDataset:
    """What every source yields: the published train and test sets as uint8 NHWC arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    note: str = ""  # an archive's comment, e.g. that it is a generated stand-in


def index_zip(path: Path, zf: zipfile.ZipFile) -> dict[str, dict[str, list[str]]]:
    """split -> class -> sorted member names, checking the ImageFolder layout."""
    layout: dict[str, dict[str, list[str]]] = {split: defaultdict(list)
                                               for split in ("train", "test")}
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


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: not a readable zip archive ({e})") from None


def read_imagefolder_zip(path: Path) -> RawDataset:
    """Read `train/<class>/<file>` and `test/<class>/<file>` images straight from the archive.

    All images must share the first image's size and mode (L or RGB); class index is the
    position of the class name in sorted order, as torchvision's ImageFolder does.
    """
    with open_zip(path) as zf:
        layout = index_zip(path, zf)
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


def write_imagefolder_zip(path: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                          classes: list[str], note: str = "", fmt: str = "PNG") -> Path:
    """Write `{"train": (x, y), "test": (x, y)}` (uint8 NHWC images, int labels) as an
    ImageFolder zip, atomically; `note` becomes the archive comment."""
    path = Path(path)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        zf.comment = note.encode()
        for split, (x, y) in splits.items():
            for i, (img, label) in enumerate(zip(x, y, strict=True)):
                buf = io.BytesIO()
                Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img).save(buf, fmt)
                zf.writestr(f"{split}/{classes[int(label)]}/{i:05d}.{fmt.lower()}", buf.getvalue())
    return path
