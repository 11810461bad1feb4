"""Transfer of the CIFAR-10 backbone: a new head, the blocks a rung trains (the ladder itself:
`reslab.core.ladder`), the features of the linear probe and the SVM baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from reslab.batches.loader import BatchLoader, Prepared, Split
from reslab.core.errors import CheckpointError, DataError
from reslab.core.timing import phase
from reslab.models.build import build_model
from reslab.models.cnn import CNN
from reslab.train import checkpoint, precision


@phase("data")
def load_cnn(path: str | Path, **expect) -> CNN:
    """A CNN checkpoint (weights_only), rebuilt from its stored spec; `expect` checks the spec."""
    ckpt = checkpoint.load(path)
    meta = ckpt.get("meta", {})
    if meta.get("arch") != "cnn":
        raise CheckpointError(f"{path}: not a CNN checkpoint (arch={meta.get('arch')!r})")
    model = build_model(meta)
    checkpoint.load_model(path, model, expect)
    return model


def with_new_head(model: CNN, num_classes: int, seed: int) -> CNN:
    """Replace the classifier with a freshly initialised Linear(features -> num_classes)."""
    torch.manual_seed(seed)
    model.head = nn.Linear(model.feature_dim, num_classes)
    model.spec = {**model.spec, "num_classes": num_classes}
    return model


def freeze(model: CNN, trainable_blocks: int | None) -> None:
    """Only the head and the last `trainable_blocks` residual blocks keep requires_grad (every
    parameter with None). The model's `train()` keeps frozen BatchNorm layers in eval mode."""
    if trainable_blocks is None:
        model.requires_grad_(True)
        return
    if trainable_blocks > len(model.blocks):
        raise ValueError(f"the model has {len(model.blocks)} blocks, not {trainable_blocks}")
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    for block in list(model.blocks)[len(model.blocks) - trainable_blocks:]:
        block.requires_grad_(True)


@torch.inference_mode()
def extract_features(model: CNN, loader: BatchLoader) -> np.ndarray:
    """Pooled backbone features (eval mode, IEEE fp32 with TF32 off on a GPU, loader without
    augmentation) as float32."""
    model.eval()
    with precision.ieee_fp32():
        return torch.cat([model.features(x).float().cpu() for x, _ in loader]).numpy()


STD_FLOOR = 0.1  # of the median feature std: a near-dead channel is not blown up


def feature_data(features: dict[str, np.ndarray], classes: list[str]) -> Prepared:
    """Features as a `Prepared` whose mean and std are the train split's, so the engine trains
    the probe on standardised features, as the SVM baseline's StandardScaler does, with one
    difference: a std below a tenth of the median counts as that. Standardising a near-dead
    channel (std 1e-4 beside a median of 0.06) would scale it up 100x, and fine-tuning from the
    probe then diverges as the unfrozen blocks move it."""
    def split(name: str) -> Split:
        return Split(torch.from_numpy(features[f"{name}_x"]),
                     torch.from_numpy(features[f"{name}_y"]).long())

    train = torch.from_numpy(features["train_x"]).double()
    std = train.std(0, unbiased=False)
    alive = std[std > 0]
    std = std.clamp(min=STD_FLOOR * (alive.median().item() if len(alive) else 1.0))
    return Prepared(split("train"), split("val"), split("test"), classes,
                    train.mean(0).float(), std.float())


def unstandardised_head(head: nn.Linear, mean: torch.Tensor, std: torch.Tensor) -> nn.Linear:
    """The same classifier on raw features: W (x - m) / s + b = (W / s) x + (b - (W / s) m)."""
    out = nn.Linear(head.in_features, head.out_features).to(head.weight.device)
    with torch.no_grad():
        w = head.weight.double() / std.double().to(head.weight.device)
        out.weight.copy_(w)
        out.bias.copy_(head.bias.double() - w @ mean.double().to(head.weight.device))
    return out


def linear_svm(c: float, max_iter: int, n_samples: int, n_features: int):
    """StandardScaler + LinearSVC (one-vs-rest), with liblinear's solver said here rather than
    left to the installed scikit-learn's default: the primal problem when there are more samples
    than features (45,000 x 256 on CIFAR-100: bench/README.md, "SVM baseline"), else the dual."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(), LinearSVC(C=c, dual=n_samples <= n_features,
                                                     max_iter=max_iter, random_state=0))


@phase("data")
def load_features(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays `extract_features` wrote, with a one-line error when they are missing."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: features not found (run `dvc repro extract_features`)")
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
