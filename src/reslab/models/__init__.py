"""Model definitions for the study (docs/lab.md), rebuilt from checkpoint meta."""

from torch import nn

from reslab.core.errors import CheckpointError
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP


def build_model(meta: dict) -> nn.Module:
    """The untrained model a checkpoint's `meta` describes (see `checkpoint.save_model`)."""
    try:
        if meta["arch"] == "mlp":
            return MLP(meta["depth"], meta["width"], meta["residual"], tuple(meta["in_shape"]),
                       meta["num_classes"])
        if meta["arch"] == "cnn":
            return CNN(meta["depth"], meta["width"], meta["residual"], meta["num_classes"],
                       meta["in_channels"])
    except KeyError as e:
        raise CheckpointError(f"checkpoint meta lacks {e}") from None
    raise CheckpointError(f"checkpoint meta has unknown arch {meta.get('arch')!r}")

