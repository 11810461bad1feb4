"""The lab's CNNs (docs/lab.md): ConvBlock, ResidualBlock and a depth-driven builder.

Depth d gives (d - 1) // 2 blocks of two 3x3 convs; with k = blocks // 4, blocks k, 2k and 3k
downsample (stride 2, channels doubled). Blocks are addressable from the end (`model.blocks[-1]`),
which is how fine-tuning unfreezes them one by one; frozen BatchNorm layers stay in eval mode.
"""

from __future__ import annotations

import torch
from torch import nn

from reslab.core.errors import ConfigError

CNN_MIN_DEPTH = 9  # (depth - 1) // 2 blocks; three downsamplings need blocks // 4 >= 1


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out)]


class ConvBlock(nn.Module):
    """Plain block: conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN -> ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(c_in, c_out, 3, stride), nn.ReLU(inplace=True),
                                  *conv_bn(c_out, c_out), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ResidualBlock(nn.Module):
    """conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus shortcut, then ReLU.

    The shortcut is the identity, or a 1x1 conv + BN projection when stride or channels change.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(c_in, c_out, 3, stride), nn.ReLU(inplace=True),
                                  *conv_bn(c_out, c_out))
        projection = stride != 1 or c_in != c_out
        self.shortcut = nn.Sequential(*conv_bn(c_in, c_out, 1, stride)) if projection \
            else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class CNN(nn.Module):
    """Stem conv3x3 + BN + ReLU, `(depth - 1) // 2` blocks, global average pooling, Linear."""

    def __init__(self, *, depth: int, width: int, residual: bool, num_classes: int,
                 in_channels: int):
        super().__init__()
        if depth < CNN_MIN_DEPTH:
            raise ConfigError(f"depth: {depth} is too small for the CNN's three downsamplings "
                              f"(must be >= {CNN_MIN_DEPTH})")
        n_blocks = (depth - 1) // 2
        k = n_blocks // 4
        block = ResidualBlock if residual else ConvBlock
        self.stem = nn.Sequential(*conv_bn(in_channels, width), nn.ReLU(inplace=True))
        blocks, c = [], width
        for i in range(n_blocks):
            down = i in (k, 2 * k, 3 * k)
            blocks.append(block(c, c * 2 if down else c, 2 if down else 1))
            c = c * 2 if down else c
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, num_classes)
        self.feature_dim = c
        self.spec = {"arch": "cnn", "depth": depth, "width": width, "residual": residual,
                     "num_classes": num_classes, "in_channels": in_channels}

    def train(self, mode: bool = True) -> CNN:
        """A BatchNorm whose parameters are all frozen (requires_grad False, whoever froze them)
        stays in eval mode, so its running statistics never move."""
        super().train(mode)
        for module in self.modules():
            params = list(module.parameters(recurse=False))
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and params \
                    and not any(p.requires_grad for p in params):
                module.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled feature vector the transfer stages use (before the head)."""
        return self.pool(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
