"""Precision and memory format for the device at hand: `auto` picks what is fast and safe there.

bf16 autocast pays only where the hardware does bf16 arithmetic: a CUDA GPU that supports it, or
a CPU with AVX512-BF16 or AMX; elsewhere it is emulated, many times slower than fp32.
channels_last speeds convolutions up on CUDA and on x86 CPUs, but where oneDNN runs its AVX2
kernels the weight gradient of a 1x1 stride-2 convolution with few channels hangs or corrupts the
heap (oneDNN in torch 2.14.1), so a CNN narrower than `SAFE_CHANNELS_LAST_WIDTH` runs in NCHW
there. What each choice rests on: bench/README.md, "What `auto` rests on".

`ONEDNN_MAX_CPU_ISA` and `ATEN_CPU_CAPABILITY` (which select lower kernels on a better CPU) count
as the CPU's limit, so an AVX-512 machine emulating an AVX2 one chooses as that one would.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

Recipe = TypeVar("Recipe")  # a TrainConfig (or any dataclass with bf16 and channels_last)
SAFE_CHANNELS_LAST_WIDTH = 8  # the narrowest convolution measured safe on AVX2 (bench/README.md)
# oneDNN ISA limits (ONEDNN_MAX_CPU_ISA) below which it has no AVX-512 / no bf16 kernels
NO_AVX512_ISAS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"}
NO_BF16_ISAS = NO_AVX512_ISAS | {"AVX512_CORE", "AVX512_CORE_VNNI"}


@dataclass(frozen=True)
class Precision:
    """What a training run actually uses, recorded in its metrics as numeric leaves."""

    bf16: bool
    channels_last: bool

    def record(self, device: torch.device, world_size: int) -> dict[str, int]:
        """What ran, as numbers: `tf32` is whether training's convolutions ran in TF32 (fp32
        training on a GPU that has it, at PyTorch's default for cuDNN; evaluation never does:
        `ieee_fp32`)."""
        return {"bf16": int(self.bf16), "channels_last": int(self.channels_last),
                "cuda": int(device.type == "cuda"), "world_size": world_size,
                "tf32": int(not self.bf16 and tf32_convolutions(device))}


def _onednn_isa() -> str:
    """oneDNN's ISA limit, under its current name or the older one."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or ""
    return isa.strip().upper()


def cpu_avx512() -> bool:
    """ATen and oneDNN may both run AVX-512 kernels on this CPU."""
    return (torch.backends.cpu.get_cpu_capability().startswith("AVX512")
            and _onednn_isa() not in NO_AVX512_ISAS)


def cpu_native_bf16() -> bool:
    """The CPU does bf16 arithmetic itself (AVX512-BF16 or AMX) and may use it."""
    hardware = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return hardware and cpu_avx512() and _onednn_isa() not in NO_BF16_ISAS


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and cpu_native_bf16()


def describe_cpu() -> str:
    """One line: the CPU's kernel level and bf16 support, as the choices above see them."""
    isa = _onednn_isa()
    return (f"CPU capability {torch.backends.cpu.get_cpu_capability()}"
            + (f" (oneDNN ISA limit {isa})" if isa else "")
            + f", native bf16 {'yes' if cpu_native_bf16() else 'no'}")


def narrowest_conv(model: nn.Module) -> int | None:
    """The fewest output channels of any 2-d convolution in `model` (None: it has none)."""
    widths = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    return min(widths) if widths else None


def choose(setting_bf16: bool | str, setting_cl: bool | str, model: nn.Module,
           device: torch.device, name: str = "train", verbose: bool = True) -> Precision:
    """Resolve the recipe's `bf16` / `channels_last` (true, false or auto) for `model` on
    `device`, printing one line (if `verbose`) where an explicit choice is slow or unsafe there.

    channels_last applies to convolutional models only (a flat input has no memory format)."""
    bf16 = native_bf16(device) if setting_bf16 == "auto" else setting_bf16
    if verbose and setting_bf16 is True and not native_bf16(device):
        where = describe_cpu() if device.type == "cpu" else str(device)
        print(f"{name}: bf16: true on a device without native bf16 ({where}): autocast is "
              "emulated there, about 10x slower than fp32; bf16: auto chooses fp32", flush=True)
    width = narrowest_conv(model)
    channels_last = width is not None and setting_cl in ("auto", True)
    if channels_last and device.type == "cpu" and not cpu_avx512() \
            and width < SAFE_CHANNELS_LAST_WIDTH:
        channels_last = False
        if verbose and setting_cl is True:
            print(f"{name}: channels_last: true ignored: a convolution of {width} channels hangs "
                  f"oneDNN's AVX2 kernels in channels_last (below {SAFE_CHANNELS_LAST_WIDTH}); "
                  "running NCHW", flush=True)
    return Precision(bf16, channels_last)


def prepare(model: nn.Module, cfg: Recipe, device: torch.device, name: str = "train",
            verbose: bool = True) -> Precision:
    """Resolve the recipe's choices once for `model` (already on `device`), put the model in the
    chosen memory format, and return what runs: the engine and the loaders take it from here."""
    chosen = choose(cfg.bf16, cfg.channels_last, model, device, name, verbose)
    if chosen.channels_last:
        model.to(memory_format=torch.channels_last)
    return chosen


def tf32_convolutions(device: torch.device) -> bool:
    """Whether fp32 cuDNN convolutions on `device` run in TF32: an Ampere-or-later GPU, and
    PyTorch's setting for them ("none" defers to cuDNN's, then to the global one)."""
    if device.type != "cuda" or torch.cuda.get_device_capability(device) < (8, 0):
        return False
    for setting in (torch.backends.cudnn.conv, torch.backends.cudnn, torch.backends):
        if setting.fp32_precision != "none":
            return setting.fp32_precision == "tf32"
    return False


@contextlib.contextmanager
def ieee_fp32():
    """Full-precision fp32 matmuls and cuDNN convolutions inside the block, whatever training
    chose: on Ampere and later GPUs cuDNN runs fp32 convolutions in TF32 by default, so
    evaluation and features would not be the fp32 that re-scoring a saved model reproduces.
    (On a CPU fp32 stays IEEE unless oneDNN's own `torch.backends.mkldnn` precision flags are
    lowered, which reslab never does.)"""
    flags = (torch.backends.cuda.matmul, torch.backends.cudnn.conv)
    saved = [f.fp32_precision for f in flags]
    for f in flags:
        f.fp32_precision = "ieee"
    try:
        yield
    finally:
        for f, value in zip(flags, saved, strict=True):
            f.fp32_precision = value
