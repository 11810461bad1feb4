"""The model a checkpoint describes, rebuilt from its meta."""

from torch import nn

from reslab.core.errors import CheckpointError
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP


def build_model(meta: dict) -> nn.Module:
    """The untrained model a checkpoint's `meta` describes (see `checkpoint.save_model`)."""
    try:
        if meta["arch"] == "mlp":
            return MLP(depth=meta["depth"], width=meta["width"], residual=meta["residual"],
                       num_classes=meta["num_classes"], in_shape=tuple(meta["in_shape"]))
        if meta["arch"] == "cnn":
            return CNN(depth=meta["depth"], width=meta["width"], residual=meta["residual"],
                       num_classes=meta["num_classes"], in_channels=meta["in_channels"])
    except KeyError as e:
        raise CheckpointError(f"checkpoint meta lacks {e}") from None
    raise CheckpointError(f"checkpoint meta has unknown arch {meta.get('arch')!r}")

