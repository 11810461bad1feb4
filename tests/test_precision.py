"""Precision and memory format chosen per device: `auto` takes bf16 only where it is native and
channels_last only where it is fast and safe; explicit choices are honoured, with a line where
they are slow or would hang. The CPU kinds are simulated by patching what the module detects."""

import json
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from project import recipe
from reslab.models.cnn import CNN
from reslab.models.mlp import MLP
from reslab.train import precision

CPU = torch.device("cpu")


def cnn(width: int) -> CNN:
    return CNN(depth=9, width=width, residual=True, num_classes=10, in_channels=3)


@pytest.fixture
def cpu_kind(monkeypatch):
    """Make this CPU look like an AVX-512-bf16 one (`avx512`) or an AVX2-only one (`avx2`)."""
    def as_(kind: str) -> None:
        for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability",
                            lambda: "AVX512" if kind == "avx512" else "AVX2")
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: kind == "avx512")
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    return as_


@pytest.mark.parametrize(("kind", "width", "expect"), [
    ("avx512", 4, (True, True)),    # native bf16; AVX-512 kernels handle narrow channels_last
    ("avx512", 16, (True, True)),
    ("avx2", 16, (False, True)),    # emulated bf16 is ~10x slower; channels_last 1.2-1.3x faster
    ("avx2", 8, (False, True)),
    ("avx2", 4, (False, False)),    # a 4->8 1x1 conv hangs oneDNN's AVX2 kernels in CL
])
def test_auto_chooses_per_cpu_kind(cpu_kind, capsys, kind, width, expect):
    cpu_kind(kind)
    chosen = precision.choose("auto", "auto", cnn(width), CPU)
    assert (chosen.bf16, chosen.channels_last) == expect
    assert capsys.readouterr().out == ""  # auto says nothing


def test_explicit_settings_are_honoured_with_one_line_where_slow_or_unsafe(cpu_kind, capsys):
    cpu_kind("avx2")
    chosen = precision.choose(True, True, cnn(16), CPU, "train_cnn@9-residual")
    assert chosen == precision.Precision(bf16=True, channels_last=True)
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("train_cnn@9-residual: bf16: true") and "10x slower" in line
    chosen = precision.choose(False, True, cnn(4), CPU, "s")
    assert chosen == precision.Precision(bf16=False, channels_last=False)
    (line,) = capsys.readouterr().out.splitlines()
    assert "channels_last: true ignored" in line and "4 channels" in line
    assert precision.choose(False, False, cnn(16), CPU) == \
        precision.Precision(False, False)
    cpu_kind("avx512")
    assert precision.choose(False, "auto", cnn(16), CPU).bf16 is False
    assert capsys.readouterr().out == ""


def test_channels_last_only_for_convolutional_models(cpu_kind):
    cpu_kind("avx512")
    mlp = MLP(depth=2, width=8, residual=False, num_classes=10, in_shape=(28, 28, 1))
    assert not precision.choose("auto", True, mlp, CPU).channels_last
    assert not precision.choose("auto", "auto", torch.nn.Linear(4, 2), CPU).channels_last


@pytest.mark.parametrize(("isa", "avx512", "bf16"), [
    ("AVX2", False, False), ("avx2", False, False), ("SSE41", False, False),
    ("AVX512_CORE", True, False), ("AVX512_CORE_BF16", True, True), ("", True, True)])
def test_onednn_isa_limit_counts_as_the_cpu(cpu_kind, monkeypatch, isa, avx512, bf16):
    """ONEDNN_MAX_CPU_ISA makes an AVX-512 machine choose as the CPU it emulates."""
    cpu_kind("avx512")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
    assert precision.cpu_avx512() is avx512 and precision.cpu_native_bf16() is bf16
    assert precision.choose("auto", "auto", cnn(4), CPU) == \
        precision.Precision(bf16, avx512)


def test_onednn_isa_limit_under_its_older_name_counts_too(cpu_kind, monkeypatch):
    cpu_kind("avx512")
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    assert not precision.cpu_avx512() and "oneDNN ISA limit AVX2" in precision.describe_cpu()


def test_aten_capability_counts_as_the_cpu(cpu_kind, monkeypatch):
    cpu_kind("avx512")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert not precision.cpu_native_bf16() and "AVX2" in precision.describe_cpu()


def test_prepare_puts_the_model_in_the_chosen_format(cpu_kind):

    cpu_kind("avx2")
    model = cnn(8)
    chosen = precision.prepare(model, recipe(bf16="auto", channels_last="auto"), CPU)
    assert (chosen.bf16, chosen.channels_last) == (False, True)
    assert model.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert chosen.record(CPU, 1) == {"bf16": 0, "channels_last": 1, "cuda": 0, "world_size": 1,
                                     "tf32": 0}


@pytest.mark.slow
def test_aten_capability_alone_selects_the_avx2_choices():
    """ATEN_CPU_CAPABILITY=avx2 by itself (no oneDNN limit): ATen reports AVX2, and a width-4
    CNN gets NCHW and fp32, as on an AVX2 CPU (on any x86 machine)."""
    code = ("import torch; from reslab.train import precision; from reslab.models.cnn import CNN;"
            "print(torch.backends.cpu.get_cpu_capability(), precision.describe_cpu(),"
            " precision.choose('auto', 'auto', CNN(depth=9, width=4, residual=True,"
            " num_classes=10, in_channels=3), torch.device('cpu')))")
    env = {k: v for k, v in os.environ.items() if "CPU_ISA" not in k}
    out = subprocess.run([sys.executable, "-c", code], env={**env, "ATEN_CPU_CAPABILITY": "avx2"},
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.startswith("AVX2 CPU capability AVX2, native bf16 no"), out
    assert "Precision(bf16=False, channels_last=False)" in out


CNN_STAGE = ("train_cnn", "--depth", "9", "--arch", "residual")
AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


@pytest.mark.slow
def test_a_width_4_cnn_stage_records_what_ran_and_never_hangs(workspace):
    """The shape that hangs oneDNN's AVX2 kernels in channels_last (a 4->8 1x1 convolution):
    with the AVX2 kernels selected, `auto` and even `true` run it in NCHW and fp32, and the
    metrics say so; with this CPU's own kernels the metrics record what `auto` chose here."""
    workspace.set_params({"train_cnn": {"width": 4, "train": {"epochs": 2, "bf16": "auto",
                                                              "channels_last": True}}})
    proc = workspace.run(*CNN_STAGE, env=AVX2_ONLY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "channels_last: true ignored" in proc.stdout
    metrics = json.loads((workspace.path / "metrics/train_cnn/9-residual/0.json").read_text())
    assert metrics["run"] == {"bf16": 0, "channels_last": 0, "cuda": 0, "world_size": 1,
                              "tf32": 0}

    workspace.set_params({"train_cnn": {"train": {"channels_last": "auto"}}})
    proc = workspace.run(*CNN_STAGE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((workspace.path / "metrics/train_cnn/9-residual/0.json").read_text())
    assert metrics["run"] == {"bf16": int(precision.cpu_native_bf16()),
                              "channels_last": int(precision.cpu_avx512()), "cuda": 0,
                              "world_size": 1, "tf32": 0}


class FlagRecorder(nn.Module):
    """Records the fp32 precision of matmuls and cuDNN convolutions each time it runs."""

    def __init__(self):
        super().__init__()
        self.linear, self.seen = nn.Linear(2, 2), []

    def forward(self, x):
        self.seen.append((torch.backends.cuda.matmul.fp32_precision,
                          torch.backends.cudnn.conv.fp32_precision))
        return self.linear(x.flatten(1))

    def features(self, x):
        return self(x)


def test_evaluation_and_features_run_in_ieee_fp32():
    """Training may allow TF32 on a GPU; evaluation and feature extraction turn it off for their
    duration and give the setting back."""
    from reslab.batches.loader import BatchLoader, Split
    from reslab.train.engine import evaluate
    from reslab.transfer import extract_features

    flags = (torch.backends.cuda.matmul, torch.backends.cudnn.conv)
    before = [f.fp32_precision for f in flags]
    split = Split(torch.zeros(4, 1, 2, 1, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]))
    loader = BatchLoader(split, 2, torch.tensor([0.5]), torch.tensor([0.25]))
    model = FlagRecorder()
    try:
        for f in flags:
            f.fp32_precision = "tf32"
        evaluate(model, loader, progress=False)
        extract_features(model, loader)
        after = [f.fp32_precision for f in flags]
    finally:
        for f, value in zip(flags, before, strict=True):
            f.fp32_precision = value
    assert model.seen == [("ieee", "ieee")] * 4 and after == ["tf32", "tf32"]


def test_tf32_is_recorded_where_it_runs(monkeypatch):
    """`run.tf32`: fp32 training on an Ampere-or-later GPU at PyTorch's default for cuDNN; not
    before Ampere, not under bf16, not with the setting off (checked without a GPU)."""
    cuda = torch.device("cuda", 0)
    fp32 = precision.Precision(bf16=False, channels_last=True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert fp32.record(cuda, 1)["tf32"] == 1
    assert precision.Precision(bf16=True, channels_last=True).record(cuda, 1)["tf32"] == 0
    with precision.ieee_fp32():
        assert fp32.record(cuda, 1)["tf32"] == 0
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    assert fp32.record(cuda, 1)["tf32"] == 0
