"""This project's params.yaml and pipeline, as the tests read them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import ROOT
from reslab.core.config import AugmentConfig, TrainConfig, load
from reslab.core.sections import CNNStudyConfig, MLPStudyConfig


def section(name: str, cls):
    """A section of the project's params.yaml, as its stage reads it."""
    return load(name, cls, ROOT / "params.yaml")


def recipe(**changes) -> TrainConfig:
    """The MLP study's recipe in params.yaml (Adam, fp32, no schedule, no early stopping) with
    `changes`: each test says the values it relies on."""
    return dataclasses.replace(section("train_mlp", MLPStudyConfig).train, **changes)


def augment(**changes) -> AugmentConfig:
    """The CNN study's augmentation in params.yaml (none, as the lab's) with `changes`."""
    return dataclasses.replace(section("train_cnn", CNNStudyConfig).augment, **changes)


def dvc_stages(root: Path) -> dict:
    """name -> stage of the pipeline at `root`, as DVC resolves it from its params."""
    from dvc.repo import Repo

    repo = Repo(str(root))
    try:
        return {s.name: s for s in repo.index.stages}
    finally:
        repo.close()
