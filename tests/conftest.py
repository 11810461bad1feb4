"""Shared fixtures: tiny generated ImageFolder zips, MNIST IDX files, and temporary DVC repos."""

from __future__ import annotations

import copy
import gzip
import importlib.util
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from reslab.datasets.standin import make_imagefolder_zip

ROOT = Path(__file__).resolve().parents[1]
# The real-data tests read the offline mirror named by RESLAB_DATA_MIRROR (read here, before the
# fixtures below clear it for every test), else the project's shared one beside the checkout.
# Named, it is expected: a missing one fails them (CI names it). Not named and not there (a
# fresh clone elsewhere), they skip, saying why.
MIRROR_EXPECTED = bool(os.environ.get("RESLAB_DATA_MIRROR"))
SHARED_MIRROR = Path(os.environ.get("RESLAB_DATA_MIRROR") or ROOT.parent / "shared" / "datasets")


def pytest_collection_modifyitems(config, items):
    if MIRROR_EXPECTED or SHARED_MIRROR.is_dir():
        return
    skip = pytest.mark.skip(reason=f"no offline dataset mirror at {SHARED_MIRROR}; set "
                                   "RESLAB_DATA_MIRROR to a folder of <name>.zip to run them")
    for item in items:
        if "mirror" in item.keywords:
            item.add_marker(skip)


def write_mnist_idx(root: Path, n_train: int = 20, n_test: int = 10, seed: int = 0) -> Path:
    """The official MNIST file format (IDX, as torchvision reads it) with random digits."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes())
        for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
            (raw / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes()))
    return root


def make_mirror(d: Path) -> Path:
    """A mirror folder with tiny mnist (grayscale) and cifar10/cifar100 (RGB) archives."""
    make_imagefolder_zip(d / "mnist.zip", classes=[str(i) for i in range(10)], n_train=12,
                         n_test=4, size=28, mode="L")
    make_imagefolder_zip(d / "cifar10.zip", classes=10, n_train=12, n_test=4, size=32, mode="RGB",
                         seed=1)
    make_imagefolder_zip(d / "cifar100.zip", classes=20, n_train=8, n_test=3, size=32, mode="RGB",
                         seed=2)
    return d


@pytest.fixture
def mirror(tmp_path) -> Path:
    return make_mirror(tmp_path / "mirror")


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.delenv("RESLAB_DATA_MIRROR", raising=False)
    monkeypatch.delenv("RESLAB_TORCHVISION_ROOT", raising=False)


MLP = ("train_mlp", "--depth", "2", "--arch", "residual")  # one variant, as argv
VARIANT = "train_mlp/2-residual/0"  # its outputs' name

TINY_PARAMS = {
    "runtime": {"progress": False},
    "data": {"val_size": 20},
    "train_mlp": {"depths": [2, 4], "width": 8, "gradflow_batches": 2,
                  "train": {"epochs": 2, "batch_size": 16, "eval_batch_size": 64}},
}


COMMAND_LIMIT = 280  # seconds: under the per-test limit (pyproject.toml), so that a hung
# command fails its own test and the rest of the suite still runs


def run_bounded(args: list[str], timeout: float = COMMAND_LIMIT,
                **kw) -> subprocess.CompletedProcess:
    """Run a command in a session of its own; past `timeout`, kill it and everything it started
    (a stage stuck in a kernel ignores SIGTERM) and fail with the end of its output."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{' '.join(map(str, args))}: still running after {timeout} s, "
                             f"killed:\n{out[-2000:]}\n{err[-2000:]}") from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def load_script(path: Path):
    """A stage or bench script as a module (its `main` not run), as the tests call them."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deep_update(base: dict, new: dict) -> dict:
    for k, v in new.items():
        base[k] = deep_update(base.get(k, {}), v) if isinstance(v, dict) else v
    return base


class Params:
    """params.yaml of a test folder, read and updated in place."""

    path: Path

    def params(self) -> dict:
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def set_params(self, overrides: dict) -> None:
        params = deep_update(self.params(), overrides)
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


class DvcRepo(Params):
    """A throwaway git + DVC repo holding this project's pipeline, run through the real CLIs."""

    def __init__(self, path: Path, env: dict):
        self.path, self.env = path, env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = run_bounded(list(args), cwd=self.path, env=self.env)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "dvc", *args, check=check)

    def experiments(self) -> dict[str, dict]:
        """name -> the experiment's record in `dvc exp show --json`."""
        found = {}
        for rev in json.loads(self.dvc("exp", "show", "--json").stdout):
            for exp in rev.get("experiments") or []:
                for run in exp.get("revs") or []:
                    if run.get("name"):
                        found[run["name"]] = run
        return found

    def log_offline(self) -> None:
        """wandb offline from the environment, into the repository's own wandb/."""
        self.env = {k: v for k, v in self.env.items() if k != "WANDB_DIR"} | {
            "WANDB_MODE": "offline"}

    def wandb_runs(self, experiment: str) -> list[Path]:
        """The offline wandb runs in the repository's wandb/ whose run record names
        `experiment` (their group and tag)."""
        return [f for f in (self.path / "wandb").glob("offline-run-*/run-*.wandb")
                if experiment.encode() in f.read_bytes()]

    def resume_dir_has_files(self) -> bool:
        return any(p.is_file() for p in (self.path / ".resume").rglob("*"))

    def commit(self, message: str = "update") -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)


GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
          "GIT_COMMITTER_EMAIL": "t@t"}


def make_dvc_repo(repo: Path, mirror: Path, params: dict | None = None) -> DvcRepo:
    """A git + DVC repo at `repo` with this project's pipeline and tiny params, committed."""
    repo.mkdir(parents=True)
    for item in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / item, repo / item)
    for folder in ("stages", "src", "sources", "profiles"):
        shutil.copytree(ROOT / folder, repo / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "dvc.lock"))
    env = {**os.environ, **GIT_ID, "RESLAB_DATA_MIRROR": str(mirror), "WANDB_MODE": "disabled",
           "RESLAB_TORCHVISION_ROOT": str(repo.parent / "tvroot"),
           "PYTHONPATH": str(repo / "src")}
    r = DvcRepo(repo, env)
    r.run("git", "init", "-q")
    r.dvc("init", "-q")
    r.dvc("config", "core.analytics", "false")
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")
    r.set_params(deep_update(copy.deepcopy(TINY_PARAMS), params or {}))
    r.commit("init")
    return r


@pytest.fixture
def dvc_repo(tmp_path, mirror) -> DvcRepo:
    return make_dvc_repo(tmp_path / "repo", mirror)


class Workspace(Params):
    """A project folder without git or DVC: params, tiny prepared data and checkpoints, in which
    stage scripts run as DVC would run them (`python stages/<stage>.py ...` from the root)."""

    def __init__(self, path: Path):
        self.path = path
        self.env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(ROOT / "src")}
        for key in ("RESLAB_DATA_MIRROR", "RESLAB_TORCHVISION_ROOT"):
            self.env.pop(key, None)

    @staticmethod
    def command(*argv: str) -> list[str]:
        return [sys.executable, str(ROOT / "stages" / f"{argv[0]}.py"), *argv[1:]]

    def stage(self, *argv: str, env: dict | None = None, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.command(*argv), cwd=self.path, env={**self.env, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

    def run(self, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return run_bounded(self.command(*argv), cwd=self.path, env={**self.env, **(env or {})})

    def snapshot(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.path)): p.read_bytes() for p in sorted(self.path.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts}


WORKSPACE_PARAMS = deep_update(
    copy.deepcopy(TINY_PARAMS),
    {"runtime": {"wandb": False},
     "train_mlp": {"width": 16, "train": {"batch_size": 8}},
     "train_cnn": {"depths": [9], "width": 8, "train": {"epochs": 1}}},
)


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory) -> Path:
    """Prepared tiny datasets and checkpoints, built once; tests copy it."""
    import torch

    from reslab.datasets.imagefolder import read_imagefolder_zip
    from reslab.datasets.prepare import prepare
    from reslab.models.cnn import CNN
    from reslab.train.checkpoint import save_model

    root = tmp_path_factory.mktemp("workspace")
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    ws = Workspace(root)
    ws.set_params(WORKSPACE_PARAMS)
    specs = {"mnist": dict(classes=[str(i) for i in range(10)], n_train=40, size=28, mode="L"),
             "cifar10": dict(classes=10, n_train=6, size=32, mode="RGB"),
             "cifar100": dict(classes=3, n_train=10, size=32, mode="RGB")}
    for name, spec in specs.items():
        z = make_imagefolder_zip(root / "zips" / f"{name}.zip", n_test=3, **spec)
        prepare(name, read_imagefolder_zip(z), 20, 0, root / "data/prepared")
    torch.manual_seed(0)
    backbone = CNN(depth=9, width=8, residual=True, num_classes=10, in_channels=3)
    save_model(root / "models/improve_cnn/0.pt", backbone, backbone.spec)
    save_model(root / "models/linear_probe/adam/0.pt", backbone, backbone.spec)  # 10 != 3 classes
    return root


@pytest.fixture
def workspace(workspace_template, tmp_path) -> Workspace:
    shutil.copytree(workspace_template, tmp_path / "ws")
    return Workspace(tmp_path / "ws")
