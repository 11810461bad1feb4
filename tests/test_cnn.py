"""The lab's CNNs: parameter counts from docs/lab.md, shortcut kinds, shapes, block addressing."""

import pytest
import torch
from torch import nn

from reslab.core.errors import ConfigError
from reslab.models.build import build_model
from reslab.models.cnn import CNN, ConvBlock, ResidualBlock


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    ("depth", "residual", "classes", "expected"),
    [(20, True, 10, 3_978_282), (20, True, 100, 4_001_412), (20, False, 10, 3_934_378),
     (40, False, 10, 9_433_002)],
)
def test_parameter_counts_match_the_lab(depth, residual, classes, expected):
    model = CNN(depth=depth, width=32, residual=residual, num_classes=classes, in_channels=3)
    assert n_params(model) == expected


def test_projections_hold_the_difference():
    res, plain = (CNN(depth=20, width=32, residual=r, num_classes=10, in_channels=3)
                  for r in (True, False))
    shortcuts = [b.shortcut for b in res.blocks if not isinstance(b.shortcut, nn.Identity)]
    assert len(shortcuts) == 3
    assert sum(n_params(s) for s in shortcuts) == 43_904 == n_params(res) - n_params(plain)


def test_shortcut_kinds():
    assert isinstance(ResidualBlock(16, 16, 1).shortcut, nn.Identity)
    for c_out, stride in ((32, 1), (16, 2), (32, 2)):
        proj = ResidualBlock(16, c_out, stride).shortcut
        assert isinstance(proj[0], nn.Conv2d) and proj[0].kernel_size == (1, 1)
        assert proj[0].stride == (stride, stride) and proj[0].bias is None
        assert isinstance(proj[1], nn.BatchNorm2d)
    assert not hasattr(ConvBlock(16, 32, 2), "shortcut")


def test_residual_block_adds_identity():
    block = ResidualBlock(4, 4).eval()
    x = torch.randn(2, 4, 8, 8)
    assert torch.allclose(block(x), torch.relu(block.body(x) + x))


@pytest.mark.parametrize("depth", [9, 20, 40, 50])
@pytest.mark.parametrize("residual", [True, False])
def test_output_shapes_and_downsampling(depth, residual):
    model = CNN(depth=depth, width=8, residual=residual, num_classes=7, in_channels=3).eval()
    assert len(model.blocks) == (depth - 1) // 2
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert model.features(torch.randn(2, 3, 32, 32)).shape == (2, 64)
    strides = [b.body[0].stride[0] for b in model.blocks]
    k = len(model.blocks) // 4
    assert [i for i, s in enumerate(strides) if s == 2] == [k, 2 * k, 3 * k]


@pytest.mark.parametrize("depth", [0, 1, 8])
def test_depth_too_small(depth):
    with pytest.raises(ConfigError, match=f"depth: {depth} is too small"):
        CNN(depth=depth, width=32, residual=True, num_classes=10, in_channels=3)


def test_rebuild_from_spec():
    model = CNN(depth=20, width=8, residual=False, num_classes=5, in_channels=1)
    clone = build_model(model.spec)
    assert clone.spec == model.spec and n_params(clone) == n_params(model)
    clone.load_state_dict(model.state_dict())
