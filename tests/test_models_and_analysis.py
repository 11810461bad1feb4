import pytest
import torch
from torch import nn

from reslab.analysis.gradflow import gradient_norms
from reslab.core.errors import ConfigError
from reslab.models.mlp import MLP


@pytest.mark.parametrize("depth", [1, 2, 10, 30])
def test_mlp_plain_and_residual_same_parameter_count(depth):
    plain, res = (MLP(depth=depth, width=32, residual=r, num_classes=10, in_shape=(28, 28, 1))
                  for r in (False, True))
    n = sum(p.numel() for p in plain.parameters())
    assert n == sum(p.numel() for p in res.parameters())
    # 784*32+32, (depth-1) * (32*32+32), 32*10+10
    assert n == 784 * 32 + 32 + (depth - 1) * (32 * 32 + 32) + 32 * 10 + 10
    assert plain(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_mlp_residual_block_adds_skip():
    torch.manual_seed(0)
    res = MLP(depth=2, width=4, residual=True, num_classes=2, in_shape=(3,))
    x = torch.randn(6, 4)
    block = res.blocks[0]
    assert torch.allclose(block(x), torch.relu(block.linear(x) + x))


def test_mlp_depth_zero_rejected():
    with pytest.raises(ConfigError, match="depth: 0 is out of range"):
        MLP(depth=0, width=32, residual=False, num_classes=10, in_shape=(28, 28, 1))


def test_gradient_norms_known_network():
    """Linear(2->2) at zero: softmax = (1/2, 1/2); for x=(1, 2), y=0 the gradient is
    dW = [[-0.5, -1], [0.5, 1]] (norm sqrt(2.5)) and db = (-0.5, 0.5) (norm sqrt(0.5))."""
    model = nn.Linear(2, 2)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([0])
    rows = gradient_norms(model, [(x, y), (x, y)])
    by = {r["param"]: r["grad_norm"] for r in rows}
    assert by["weight"] == pytest.approx(2.5**0.5) and by["bias"] == pytest.approx(0.5**0.5)
    assert {r["layer"] for r in rows} == {0}
    assert model.weight.grad is None


def test_gradient_norms_leave_batchnorm_stats_and_mode():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = gradient_norms(model, [(torch.randn(8, 3), torch.randint(0, 2, (8,)))])
    assert [r["layer"] for r in rows] == [0, 0, 1, 1, 2, 2]
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_plain_deep_mlp_gradient_vanishes_at_init():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    first = {}
    for residual in (False, True):
        torch.manual_seed(0)
        mlp = MLP(depth=30, width=32, residual=residual, num_classes=10, in_shape=(28, 28, 1))
        rows = gradient_norms(mlp, [(x, y)])
        first[residual] = rows[0]["grad_norm"]
    assert first[True] > 1000 * first[False]
