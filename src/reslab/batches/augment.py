"""Batched, on-device training augmentation: every op draws per-sample randomness at once.

Inputs are float images in [0, 1], shape (N, C, H, W), before normalisation (so crop padding
is black, as torchvision's RandomCrop on PIL images). All randomness comes from the caller's
generator, which lives on the images' device (no host round trip per batch), so a run (and a
resumed run) is repeatable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import torch

from reslab.core.config import AugmentConfig
from reslab.core.files import read_json

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g, device=g.device) * (hi - lo) + lo


def random_crop(x: torch.Tensor, padding: int, g: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and crop back to the original size at a random offset per image."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, None, :, None]
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols]


def random_flip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=g, device=g.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g_, b = x.unbind(1)
    return (0.299 * r + 0.587 * g_ + 0.114 * b)[:, None]


@functools.cache
def _yiq(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB -> YIQ and back, made once per device (a host copy or an inverse on every batch
    would make the device wait)."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                           [0.211, -0.523, 0.312]], dtype=torch.float64)
    return to_yiq.float().to(device), torch.linalg.inv(to_yiq).float().to(device)


def color_jitter(x: torch.Tensor, g: torch.Generator, brightness: float, contrast: float,
                 saturation: float, hue: float) -> torch.Tensor:
    """Per-image brightness, contrast, saturation and hue jitter (torchvision's ranges).

    Hue is rotated in YIQ space, a linear approximation of the HSV rotation that stays batched.
    """
    n, dev = x.shape[0], x.device
    if brightness:
        x = x * _uniform(n, 1 - brightness, 1 + brightness, g)[:, None, None, None]
    if contrast:
        f = _uniform(n, 1 - contrast, 1 + contrast, g)[:, None, None, None]
        x = f * x + (1 - f) * _gray(x).mean((2, 3), keepdim=True)
    if saturation and x.shape[1] == 3:
        f = _uniform(n, 1 - saturation, 1 + saturation, g)[:, None, None, None]
        x = f * x + (1 - f) * _gray(x)
    if hue and x.shape[1] == 3:
        theta = _uniform(n, -hue, hue, g) * 2 * torch.pi
        to_yiq, from_yiq = _yiq(dev)
        cos, sin = theta.cos(), theta.sin()
        rot = torch.zeros(n, 3, 3, device=dev)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
        x = torch.einsum("nij,njhw->nihw", from_yiq @ rot @ to_yiq, x)
    return x.clamp(0, 1)


def augment_for(cfg: AugmentConfig, manifest: Path) -> tuple[AugmentConfig, Augment | None]:
    """The augmentation `cfg` asks for, less what would change a label of the prepared data
    `manifest` describes (`AugmentConfig.for_data`, said in a line), and the function."""
    fitted = cfg.for_data(read_json(manifest))
    if fitted != cfg:
        print(f"augment.flip: off, {manifest} says a horizontal flip changes its classes",
              flush=True)
    return fitted, build_augment(fitted)


def build_augment(cfg: AugmentConfig) -> Augment | None:
    """The train-only augmentation `cfg` describes, or None when it describes none."""
    jitter = (cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue)
    if not (cfg.crop_padding or cfg.flip or any(jitter)):
        return None

    def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if cfg.crop_padding:
            x = random_crop(x, cfg.crop_padding, g)
        if cfg.flip:
            x = random_flip(x, g)
        if any(jitter):
            x = color_jitter(x, g, *jitter)
        return x

    return augment
