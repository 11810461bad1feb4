"""Files: written by write-then-rename, so a killed stage never leaves a half-written output
behind; metrics JSON with numeric leaves and CSV tables for DVC; reading an earlier stage's
output with a one-line error; content hashes."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import numbers
import os
from collections.abc import Iterator
from pathlib import Path

from reslab.core.errors import DataError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def require(path: str | Path) -> Path:
    """An output an earlier stage should have written; a one-line error naming it if missing."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: missing (run `dvc repro` for the stage that writes it)")
    return path


def read_json(path: str | Path) -> dict:
    return json.loads(require(path).read_text())


def _non_numeric(obj, prefix: str = "") -> list[str]:
    if isinstance(obj, dict):
        return [bad for k, v in obj.items() for bad in _non_numeric(v, f"{prefix}{k}.")]
    ok = isinstance(obj, int | float) and not isinstance(obj, bool)
    return [] if ok else [prefix.rstrip(".")]


def write_metrics(path: str | Path, metrics: dict) -> None:
    """Metrics JSON for `dvc metrics`: nested dicts whose leaves are all numbers."""
    bad = _non_numeric(metrics)
    if bad:
        raise TypeError(f"metrics must have numeric leaves; not: {bad}")
    write_json(path, metrics)


def _cell(value):
    """A table cell as pandas' `to_csv(float_format="%.6g")` writes it: a real number to six
    significant digits, an integer (or a truth value) as it is, a missing or NaN value empty."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return "" if math.isnan(value) else f"{float(value):.6g}"
    return value


def write_table(path: str | Path, rows: list[dict]) -> None:
    """A CSV that `dvc plots` can draw (one row per epoch, or per layer), its columns every key
    of the rows in the order they first appear. The csv module, not pandas: importing pandas
    would cost every training stage a sixth of a second."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(columns)
        out.writerows([_cell(row.get(c)) for c in columns] for row in rows)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
