"""The lab's MLPs (docs/lab.md): plain and residual share one parameter count."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from reslab.core.errors import ConfigError


class MLPBlock(nn.Module):
    """Linear(width -> width) + ReLU; with `residual`, the skip goes around the Linear."""

    def __init__(self, width: int, residual: bool):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x)
        return F.relu(out + x if self.residual else out)


class MLP(nn.Module):
    """Linear(in -> width)+ReLU, then depth-1 hidden blocks, then Linear(width -> classes)."""

    def __init__(self, *, depth: int, width: int, residual: bool, num_classes: int,
                 in_shape: tuple[int, ...]):
        super().__init__()
        if depth < 1:
            raise ConfigError(f"depth: {depth} is out of range (an MLP needs at least 1 layer)")
        self.flatten = nn.Flatten()
        self.stem = nn.Sequential(nn.Linear(math.prod(in_shape), width), nn.ReLU())
        self.blocks = nn.Sequential(*(MLPBlock(width, residual) for _ in range(depth - 1)))
        self.head = nn.Linear(width, num_classes)
        self.spec = {"arch": "mlp", "depth": depth, "width": width, "residual": residual,
                     "in_shape": list(in_shape), "num_classes": num_classes}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(self.flatten(x))))
