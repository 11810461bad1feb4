"""Per-layer gradient norms: the evidence that plain deep nets' gradients vanish."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def gradient_norms(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                   loss_fn: nn.Module | None = None) -> list[dict]:
    """L2 norm of the gradient of every weight and bias tensor, averaged over `batches`.

    `layer` numbers the modules that own parameters, in definition order (stem = 0); `type` is the
    module's class (Linear, Conv2d, BatchNorm2d). The model is
    left as it was: gradients are cleared and BatchNorm running statistics restored.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    buffers = {k: v.clone() for k, v in model.state_dict().items() if not v.is_floating_point()
               or k.endswith(("running_mean", "running_var"))}
    was_training = model.training
    model.train()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    sums = torch.zeros(len(params), dtype=torch.float64)
    count = 0
    for x, y in batches:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        sums += torch.stack([p.grad.detach().double().norm().cpu() for _, p in params])
        count += 1
    model.zero_grad(set_to_none=True)
    model.load_state_dict(buffers, strict=False)
    model.train(was_training)
    modules = dict(model.named_modules())
    layers: dict[str, int] = {}
    rows = []
    for (name, _), total in zip(params, sums.tolist(), strict=True):
        module, _, kind = name.rpartition(".")
        layer = layers.setdefault(module, len(layers))
        rows.append({"layer": layer, "module": module, "type": type(modules[module]).__name__,
                     "param": kind, "grad_norm": total / count})
    return rows
